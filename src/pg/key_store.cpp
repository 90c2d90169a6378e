#include "key_store.hpp"

#include "boundary.hpp"

#include <fstream>
#include <sstream>
#include <string>

namespace tenant_guard::pg {

namespace {

std::shared_ptr<const core::KeySet> active_keys;
// Parsed by the check hook, installed by the assign hook that follows it.
std::shared_ptr<const core::KeySet> candidate_keys;
bool loaded_by_preload = false;

std::string read_key_file(const char* path) {
    std::ifstream file(path, std::ios::binary);
    if (!file) throw core::KeySetError("could not open the file");
    std::string content;
    content.resize(core::KeySet::kMaxDocumentBytes + 1);
    file.read(content.data(), static_cast<std::streamsize>(content.size()));
    if (file.bad()) throw core::KeySetError("could not read the file");
    content.resize(static_cast<size_t>(file.gcount()));
    if (content.size() > core::KeySet::kMaxDocumentBytes) throw core::KeySetError("file is larger than 1 MiB");
    return content;
}

}  // namespace

void mark_preloaded() { loaded_by_preload = true; }

std::shared_ptr<const core::KeySet> current_key_set() noexcept { return active_keys; }

bool check_jwks_file(char** newval, void** /*extra*/, GucSource /*source*/) {
    const char* path = *newval;
    CoreFailure failure;
    size_t key_count = 0;
    bool loaded = call_core(
        [&] {
            if (path == nullptr || path[0] == '\0') {
                candidate_keys = std::make_shared<const core::KeySet>();
                return;
            }
            auto keys = std::make_shared<const core::KeySet>(core::KeySet::from_jwks(read_key_file(path)));
            key_count = keys->size();
            candidate_keys = std::move(keys);
        },
        &failure);
    // Logged once by the postmaster; every backend re-reads on reload and would repeat it.
    int level = (!IsUnderPostmaster || !loaded_by_preload) ? LOG : DEBUG1;
    if (loaded) {
        if (path != nullptr && path[0] != '\0')
            ereport(level, (errmsg("tenant_guard: loaded %zu key(s) from \"%s\"", key_count, path)));
        return true;
    }
    // A bad file must not take away working keys: keep what we have and say why.
    candidate_keys = active_keys;
    ereport(level == DEBUG1 ? DEBUG1 : WARNING,
            (errcode(failure.sqlstate),
             errmsg("tenant_guard: could not load key set from \"%s\": %s", path, failure.message),
             errdetail("The previous key set (%zu key(s)) stays in use.", active_keys ? active_keys->size() : 0)));
    return true;
}

void assign_jwks_file(const char* /*newval*/, void* /*extra*/) {
    // shared_ptr assignment cannot throw; old set is freed once no snapshot holds it.
    if (candidate_keys) active_keys = candidate_keys;
    candidate_keys.reset();
}

}  // namespace tenant_guard::pg
