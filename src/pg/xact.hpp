#pragma once
namespace tenant_guard::pg {
void register_transaction_callbacks();
}
