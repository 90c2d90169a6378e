// Every PostgreSQL header the adapter uses, included once with C linkage. Adapter files include
// this instead of PostgreSQL headers directly.
#pragma once

#define TENANT_GUARD_ADAPTER 1

// The library is built with -fvisibility=hidden so that the core and its JSON library cannot clash
// with other extensions' symbols; PostgreSQL's entry points must stay visible. (PG16+ headers do
// this themselves; PG15's PGDLLEXPORT is empty on Linux.)
#ifndef PGDLLEXPORT
#define PGDLLEXPORT __attribute__((visibility("default")))
#endif

extern "C" {
#include "postgres.h"

#include "access/detoast.h"
#include "access/parallel.h"
#include "access/xact.h"
#include "catalog/pg_type.h"
#include "executor/executor.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "nodes/parsenodes.h"
#include "tcop/utility.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/jsonb.h"
#include "utils/memutils.h"
#include "utils/timestamp.h"
#include "utils/uuid.h"
}

#include "compat.hpp"

// Declares a SQL-callable function: fmgr info record plus a visible, C-linkage symbol
// (PG15's PG_FUNCTION_INFO_V1 exports only the info record).
#define TG_SQL_FUNCTION(name)      \
    extern "C" {                   \
    PG_FUNCTION_INFO_V1(name);     \
    PGDLLEXPORT Datum name(PG_FUNCTION_ARGS); \
    }
