// Sealing the audit ledger into per-tenant hash-chained blocks (ledger_seal.cpp).
#pragma once

#include "postgres.hpp"

namespace tenant_guard::pg {

// Seals every entry whose transaction has ended into one block per tenant. Sealers serialise on
// the audit_seal_state row; writers never wait for them. Returns the number of blocks written.
// Needs a transaction with READ COMMITTED snapshots; opens its own SPI connection.
int64 seal_ledger();

}  // namespace tenant_guard::pg
