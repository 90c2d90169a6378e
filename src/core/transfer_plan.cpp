#include "transfer_plan.hpp"

#include <algorithm>
#include <stdexcept>

namespace tenant_guard::core {

namespace {

const TransferColumn* find_column(const std::vector<TransferColumn>& columns, const std::string& name) {
    for (const auto& column : columns)
        if (column.name == name) return &column;
    return nullptr;
}

std::string display_name(const SourceTable& table) { return table.schema + "." + table.name; }

// Whether table can reach itself through the foreign keys (parents[child] lists its parents).
bool on_cycle(size_t table, const std::vector<std::vector<size_t>>& parents) {
    std::vector<bool> seen(parents.size(), false);
    std::vector<size_t> stack(parents[table].begin(), parents[table].end());
    while (!stack.empty()) {
        const size_t current = stack.back();
        stack.pop_back();
        if (current == table) return true;
        if (seen[current]) continue;
        seen[current] = true;
        stack.insert(stack.end(), parents[current].begin(), parents[current].end());
    }
    return false;
}

// Kahn's algorithm over the foreign keys between the planned tables, taking the lowest source
// index among the ready tables each time so that the order is stable. Stops, with *has_cycle set,
// when only tables waiting on a cycle are left.
std::vector<size_t> load_order(const std::vector<size_t>& planned, const std::vector<TargetTable>& targets,
                               bool* has_cycle) {
    const size_t count = targets.size();
    std::vector<bool> is_planned(count, false);
    for (size_t index : planned) is_planned[index] = true;

    std::vector<std::vector<size_t>> parents(count);
    for (size_t child : planned)
        for (size_t parent : targets[child].references) {
            if (parent >= count) throw std::out_of_range("foreign key reference outside the table list");
            if (parent != child && is_planned[parent] &&
                std::find(parents[child].begin(), parents[child].end(), parent) == parents[child].end())
                parents[child].push_back(parent);
        }

    std::vector<size_t> order;
    std::vector<bool> placed(count, false);
    while (order.size() < planned.size()) {
        bool progressed = false;
        for (size_t index : planned) {
            if (placed[index]) continue;
            bool ready = std::all_of(parents[index].begin(), parents[index].end(),
                                     [&](size_t parent) { return placed[parent]; });
            if (!ready) continue;
            placed[index] = true;
            order.push_back(index);
            progressed = true;
            break;  // restart from the lowest index: a parent placed now may free an earlier table
        }
        if (!progressed) {
            *has_cycle = true;
            break;
        }
    }
    return order;
}

}  // namespace

TransferPlan plan_transfer(const std::vector<SourceTable>& sources, const std::vector<TargetTable>& targets,
                           const TransferOptions& options) {
    if (sources.size() != targets.size()) throw std::invalid_argument("one target per source table");
    TransferPlan plan;
    std::vector<size_t> planned;
    std::vector<TableTransfer> transfers(sources.size());

    for (size_t index = 0; index < sources.size(); ++index) {
        const SourceTable& source = sources[index];
        const TargetTable& target = targets[index];
        // A catalog lists a table once; a source that says otherwise is not to be believed.
        bool repeated = false;
        for (size_t earlier = 0; earlier < index && !repeated; ++earlier)
            repeated = sources[earlier].schema == source.schema && sources[earlier].name == source.name;
        if (repeated) {
            plan.problems.push_back("table " + display_name(source) + " is listed more than once by the source");
            continue;
        }
        if (!target.exists) {
            plan.problems.push_back("table " + display_name(source) + " is in the source but not in the target");
            continue;
        }
        if (options.target_must_be_tenant_table && !target.tenant_table) {
            plan.problems.push_back("table " + display_name(source) +
                                    " is not a tenant table in the target (it would mix the district's rows "
                                    "into a shared table)");
            continue;
        }
        TableTransfer& transfer = transfers[index];
        transfer.source_index = index;
        transfer.binary = true;
        bool complete = true;
        for (const auto& column : source.columns) {
            if (column.name == options.tenant_column) continue;
            const TransferColumn* counterpart = find_column(target.columns, column.name);
            if (column.generated) {
                // Computed in the source: nothing to copy, unless the target keeps it as data.
                if (counterpart != nullptr && !counterpart->generated) {
                    plan.problems.push_back("column " + column.name + " of table " + display_name(source) +
                                            " is generated in the source but not in the target (its values "
                                            "would be lost)");
                    complete = false;
                }
                continue;
            }
            if (counterpart == nullptr) {
                plan.problems.push_back("column " + column.name + " of table " + display_name(source) +
                                        " is in the source but not in the target");
                complete = false;
                continue;
            }
            if (counterpart->generated) continue;  // the target computes it
            transfer.columns.push_back(column.name);
            if (!(column.builtin_type && counterpart->builtin_type && column.type_oid == counterpart->type_oid))
                transfer.binary = false;
        }
        if (!complete) continue;
        if (transfer.columns.empty()) {
            plan.problems.push_back("table " + display_name(source) + " has no column to copy");
            continue;
        }
        if (!options.target_must_be_tenant_table) {
            const TransferColumn* tenant = find_column(target.columns, options.tenant_column);
            transfer.send_tenant_column = tenant != nullptr && !tenant->generated;
            // The tenant value is sent as text; binary would need the uuid's wire form.
            if (transfer.send_tenant_column) transfer.binary = false;
        }
        planned.push_back(index);
    }
    if (!plan.problems.empty()) return plan;

    std::vector<size_t> order = load_order(planned, targets, &plan.has_foreign_key_cycle);
    if (plan.has_foreign_key_cycle) {
        // Rows may refer both ways: no order loads parents first. Name the tables on a cycle.
        std::string members;
        std::vector<std::vector<size_t>> parents(targets.size());
        for (size_t child : planned)
            for (size_t parent : targets[child].references)
                if (parent != child) parents[child].push_back(parent);
        for (size_t index : planned)
            if (on_cycle(index, parents))
                members += (members.empty() ? "" : ", ") + display_name(sources[index]);
        plan.problems.push_back("tables " + members +
                                " refer to each other with foreign keys: they cannot be loaded parents first");
        return plan;
    }
    for (size_t index : order) plan.tables.push_back(std::move(transfers[index]));
    return plan;
}

std::string quoted_identifier(const std::string& name) {
    std::string quoted = "\"";
    for (char c : name) {
        if (c == '"') quoted += '"';
        quoted += c;
    }
    quoted += '"';
    return quoted;
}

std::string quoted_table_name(const std::string& schema, const std::string& name) {
    return quoted_identifier(schema) + "." + quoted_identifier(name);
}

}  // namespace tenant_guard::core
