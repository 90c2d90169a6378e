// Capturing changes into the audit ledger (audit_capture.cpp).
#pragma once

#include "postgres.hpp"

namespace tenant_guard::pg {

extern const char* const kAuditTriggerName;          // the row trigger
extern const char* const kAuditTruncateTriggerName;  // the statement trigger that records TRUNCATE

bool is_audit_trigger_name(const char* name);
bool is_reserved_trigger_name(const char* name);  // tenant_guard_*

// True while audit_table()/unaudit_table() run their own trigger DDL (the guards stand aside).
bool audit_ddl_in_progress();

// tenant_guard.audit_new_tables: called by the event trigger for a table it just protected.
// Needs an SPI connection.
void audit_new_table(Oid relid);

// A new inheritance child of an audited table is audited too (its rows are the parent's rows to
// every query through the parent). Needs SPI.
void audit_like_parents(Oid relid);

// After an ALTER TABLE (event trigger): the statement really changed (whatever name it used), the
// audit triggers must still fire ALWAYS. Catalog reads only.
void refuse_silenced_audit(Oid relid);

// From the sql_drop event trigger (SPI connected): an audited table dropped, or its audit trigger
// dropped by a statement the guards do not see (ALTER TABLE ... DETACH PARTITION), is recorded.
void record_dropped_audit_triggers(const char* command);

}  // namespace tenant_guard::pg
