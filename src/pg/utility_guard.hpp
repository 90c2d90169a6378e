#pragma once
namespace tenant_guard::pg {
void install_utility_guard();
}
