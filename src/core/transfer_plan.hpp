// Moving one district between databases (import_tenant, export_tenant, reconcile_tenant), decided
// without PostgreSQL: which source table goes to which target table, which columns travel, whether
// the binary COPY format can be used, and in which order the tables load so that parents come
// before children. The adapter (src/pg/district_transfer.cpp) reads both catalogs into these
// structs and carries the plan out with COPY.
#pragma once
#include "no_postgres.hpp"

#include <cstdint>
#include <string>
#include <vector>

namespace tenant_guard::core {

struct TransferColumn {
    std::string name;
    uint32_t type_oid = 0;
    bool builtin_type = false;  // the type's OID means the same in every database (binary COPY safe)
    bool generated = false;     // GENERATED ALWAYS AS (...) STORED: recomputed, never copied
};

struct SourceTable {
    std::string schema;
    std::string name;
    std::vector<TransferColumn> columns;  // in attribute order
};

// The table of the same schema and name in the target, read by the adapter.
struct TargetTable {
    bool exists = false;
    bool tenant_table = false;  // protected by tenant_guard, with the tenant column
    std::vector<TransferColumn> columns;
    // Other entries of the same vector this table references with a foreign key (self references
    // are allowed and ignored: a single COPY checks them at its end).
    std::vector<size_t> references;
};

struct TransferOptions {
    std::string tenant_column;
    // Import: every target must be a tenant table, which fills the tenant column itself. Export: a
    // target may have the tenant column (then it travels) or not.
    bool target_must_be_tenant_table = true;
};

struct TableTransfer {
    size_t source_index = 0;
    std::vector<std::string> columns;  // copied and compared, in source order, without the tenant column
    bool send_tenant_column = false;   // export into a target table that has the tenant column
    bool binary = false;               // every column has the same built-in type on both sides
};

struct TransferPlan {
    std::vector<TableTransfer> tables;  // parents before children
    std::vector<std::string> problems;  // non-empty: nothing may be copied
    bool has_foreign_key_cycle = false;  // then a problem names the tables on the cycle
};

// targets[i] describes the target of sources[i].
TransferPlan plan_transfer(const std::vector<SourceTable>& sources, const std::vector<TargetTable>& targets,
                           const TransferOptions& options);

// "schema"."name" with double quotes doubled, as PostgreSQL's quote_identifier() would always quote.
std::string quoted_identifier(const std::string& name);
std::string quoted_table_name(const std::string& schema, const std::string& name);

}  // namespace tenant_guard::core
