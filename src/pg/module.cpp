// _PG_init: define settings, install hooks, register callbacks. Nothing else.
#include "citus.hpp"
#include "context.hpp"
#include "database_worker.hpp"
#include "key_store.hpp"
#include "ledger_guard.hpp"
#include "platform_access.hpp"
#include "postgres.hpp"
#include "registry.hpp"
#include "security_events.hpp"
#include "settings.hpp"
#include "shared_memory.hpp"
#include "statistics.hpp"
#include "transfer_progress.hpp"
#include "utility_guard.hpp"
#include "verification_cache.hpp"
#include "xact.hpp"

extern "C" {

PG_MODULE_MAGIC;

PGDLLEXPORT void _PG_init(void);

void _PG_init(void) {
    using namespace tenant_guard::pg;
    if (process_shared_preload_libraries_in_progress) mark_preloaded();
    define_settings();
    define_registry_settings();
    define_security_event_settings();
    define_statistics_settings();
    define_context_setting();
    define_verification_cache_setting();
    // After the settings: before PostgreSQL 15 the sizes are requested right here.
    if (process_shared_preload_libraries_in_progress) {
        request_worker_shared_memory();
        request_registry_shared_memory();
        request_security_event_shared_memory();
        request_statistics_shared_memory();
        request_transfer_progress_shared_memory();
        register_launcher();
        install_shared_memory_hooks();
    }
    TG_RESERVE_GUC_PREFIX("tenant_guard");
    register_transaction_callbacks();
    install_utility_guard();
    install_executor_guard();
    install_ledger_guard();
    install_write_violation_capture();
    install_statistics_hooks();
    install_platform_access_hooks();
    install_citus_hooks();
}

}  // extern "C"
