// Included first by every core header: the core must stay free of PostgreSQL so that it can be
// unit-tested and fuzzed on its own. PostgreSQL's c.h defines PG_VERSION_NUM via pg_config.h.
#pragma once
#if defined(PG_VERSION_NUM) || defined(POSTGRES_H)
#error "src/core must not include PostgreSQL headers; put PostgreSQL code in src/pg"
#endif
