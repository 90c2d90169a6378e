// Included first by every core header: the core must stay free of PostgreSQL so that it can be
// unit-tested and fuzzed on its own. Only the adapter (src/pg/postgres.hpp defines
// TENANT_GUARD_ADAPTER) may see both PostgreSQL and the core.
#pragma once
#if (defined(PG_VERSION_NUM) || defined(POSTGRES_H)) && !defined(TENANT_GUARD_ADAPTER)
#error "src/core must not include PostgreSQL headers; put PostgreSQL code in src/pg"
#endif
