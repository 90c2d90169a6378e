// _PG_init: define settings, install hooks, register callbacks. Nothing else.
#include "context.hpp"
#include "key_store.hpp"
#include "ledger_guard.hpp"
#include "ledger_worker.hpp"
#include "postgres.hpp"
#include "registry.hpp"
#include "settings.hpp"
#include "utility_guard.hpp"
#include "verification_cache.hpp"
#include "xact.hpp"

extern "C" {

PG_MODULE_MAGIC;

PGDLLEXPORT void _PG_init(void);

void _PG_init(void) {
    using namespace tenant_guard::pg;
    if (process_shared_preload_libraries_in_progress) {
        mark_preloaded();
        request_ledger_shared_memory();
        request_registry_shared_memory();
        register_ledger_launcher();
    }
    define_settings();
    define_registry_settings();
    define_context_setting();
    define_verification_cache_setting();
    TG_RESERVE_GUC_PREFIX("tenant_guard");
    register_transaction_callbacks();
    install_utility_guard();
    install_executor_guard();
    install_ledger_guard();
}

}  // extern "C"
