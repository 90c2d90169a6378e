// Transaction-end reset. PostgreSQL's GUC stack already drops a SET LOCAL-style context at the end
// of its transaction; these callbacks make that independent of the GUC stack: once the transaction
// (or the subtransaction that installed it) is over, a transaction-scoped context is dead even if
// some code path left the GUC value behind. See context.cpp.
#include "xact.hpp"

#include "context.hpp"
#include "postgres.hpp"
#include "platform_access.hpp"
#include "registry.hpp"
#include "remote_database.hpp"
#include "security_events.hpp"
#include "statistics.hpp"
#include "transfer_progress.hpp"

namespace tenant_guard::pg {

namespace {

void on_transaction_event(XactEvent event, void* /*arg*/) {
    switch (event) {
        case XACT_EVENT_COMMIT:
            registry_transaction_ended(true);
            break;
        case XACT_EVENT_ABORT:
        case XACT_EVENT_PREPARE:
            registry_transaction_ended(false);
            break;
        case XACT_EVENT_PRE_PREPARE:
            registry_before_prepare();
            break;
        default:
            break;
    }
    switch (event) {
        case XACT_EVENT_COMMIT:
        case XACT_EVENT_PARALLEL_COMMIT:
        case XACT_EVENT_ABORT:
        case XACT_EVENT_PARALLEL_ABORT:
        case XACT_EVENT_PREPARE:
            context_transaction_ended();
            forget_recorded_violation();
            end_platform_access();
            close_all_remote_databases();
            end_transfer_progress();
            if (event != XACT_EVENT_PARALLEL_COMMIT && event != XACT_EVENT_PARALLEL_ABORT) statistics_transaction_ended();
            break;
        default:
            break;
    }
}

void on_subtransaction_event(SubXactEvent event, SubTransactionId subxid, SubTransactionId /*parent*/,
                             void* /*arg*/) {
    if (event == SUBXACT_EVENT_ABORT_SUB) {
        context_subtransaction_aborted(subxid);
        registry_subtransaction_aborted(subxid);
        platform_access_subtransaction_aborted(subxid);
        forget_recorded_violation();
    }
}

}  // namespace

void register_transaction_callbacks() {
    RegisterXactCallback(on_transaction_event, nullptr);
    RegisterSubXactCallback(on_subtransaction_event, nullptr);
}

}  // namespace tenant_guard::pg
