// Shared memory for tenant_guard's parts (registry, security-event queue, statistics, workers):
// each part says how much it needs, which LWLock tranche it wants and how it attaches; one
// shmem_request_hook and one shmem_startup_hook serve them all.
#pragma once

#include "postgres.hpp"

namespace tenant_guard::pg {

struct SharedMemoryPart {
    Size (*size)();              // bytes, asked for while the library is preloaded
    const char* lwlock_tranche;  // one named LWLock, or nullptr
    void (*attach)();            // ShmemInitStruct/ShmemInitHash; runs under AddinShmemInitLock
};

// From _PG_init while shared_preload_libraries loads the library, after the settings that size it.
void add_shared_memory_part(const SharedMemoryPart& part);
void install_shared_memory_hooks();  // once, after every part was added

}  // namespace tenant_guard::pg
