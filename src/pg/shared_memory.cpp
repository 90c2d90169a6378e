#include "shared_memory.hpp"

namespace tenant_guard::pg {

namespace {

constexpr int kMaxParts = 8;
SharedMemoryPart parts[kMaxParts];
int part_count = 0;

shmem_startup_hook_type previous_startup = nullptr;
#if PG_VERSION_NUM >= 150000
shmem_request_hook_type previous_request = nullptr;
#endif

void request_parts() {
    for (int i = 0; i < part_count; i++) {
        RequestAddinShmemSpace(MAXALIGN(parts[i].size()));
        if (parts[i].lwlock_tranche != nullptr) RequestNamedLWLockTranche(parts[i].lwlock_tranche, 1);
    }
}

#if PG_VERSION_NUM >= 150000
void on_shmem_request() {
    if (previous_request) previous_request();
    request_parts();
}
#endif

void on_shmem_startup() {
    if (previous_startup) previous_startup();
    LWLockAcquire(AddinShmemInitLock, LW_EXCLUSIVE);
    for (int i = 0; i < part_count; i++) parts[i].attach();
    LWLockRelease(AddinShmemInitLock);
}

}  // namespace

void add_shared_memory_part(const SharedMemoryPart& part) {
    if (part_count == kMaxParts) elog(ERROR, "tenant_guard: too many shared memory parts");
    parts[part_count++] = part;
}

void install_shared_memory_hooks() {
#if PG_VERSION_NUM >= 150000
    previous_request = shmem_request_hook;
    shmem_request_hook = on_shmem_request;
#else
    request_parts();  // before 15 the request is made from _PG_init itself
#endif
    previous_startup = shmem_startup_hook;
    shmem_startup_hook = on_shmem_startup;
}

}  // namespace tenant_guard::pg
