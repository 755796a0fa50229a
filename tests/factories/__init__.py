"""Plain factory functions for tests, one module per kind of thing they make; they add rows and flush, never commit.

people       users (`make_user`, `PASSWORD`)
countries    the fictional jurisdictions and real countries
rounds       rounds, country-rounds and their two assignments
coding       legal sources, answered assignments, a finalized country-round, the coding form's POST body
supervision  a country double-coded and submitted, ready to compare
releases     final country-rounds made directly, and the data set behind the golden files
world        a small complete world (every role, a release, hostile text) for the access and fuzz tests
querycount   counting the SQL statements an engine runs inside a block
"""
