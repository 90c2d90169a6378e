// Which tables and columns an import or export copies, in which format and in which order.
#include "transfer_plan.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <stdexcept>
#include <string>
#include <vector>

namespace tenant_guard::core {
namespace {

constexpr uint32_t kInt4 = 23;
constexpr uint32_t kText = 25;
constexpr uint32_t kUuid = 2950;
constexpr uint32_t kEnumHere = 91000;   // a user-defined type: its OID differs between databases
constexpr uint32_t kEnumThere = 92000;

TransferColumn column(const std::string& name, uint32_t oid = kInt4, bool builtin = true, bool generated = false) {
    TransferColumn c;
    c.name = name;
    c.type_oid = oid;
    c.builtin_type = builtin;
    c.generated = generated;
    return c;
}

TransferColumn generated_column(const std::string& name, uint32_t oid = kInt4) {
    return column(name, oid, true, true);
}

SourceTable source(const std::string& name, std::vector<TransferColumn> columns, const std::string& schema = "app") {
    return SourceTable{schema, name, std::move(columns)};
}

TargetTable target(std::vector<TransferColumn> columns, std::vector<size_t> references = {}, bool tenant_table = true) {
    TargetTable t;
    t.exists = true;
    t.tenant_table = tenant_table;
    t.columns = std::move(columns);
    t.references = std::move(references);
    return t;
}

TransferOptions import_options() {
    TransferOptions options;
    options.tenant_column = "district_id";
    options.target_must_be_tenant_table = true;
    return options;
}

TransferOptions export_options() {
    TransferOptions options = import_options();
    options.target_must_be_tenant_table = false;
    return options;
}

// A plain table "tN" with the tenant column and an id, same on both sides.
SourceTable plain_source(const std::string& name) {
    return source(name, {column("district_id", kUuid), column("id")});
}
TargetTable plain_target(std::vector<size_t> references = {}) {
    return target({column("district_id", kUuid), column("id")}, std::move(references));
}

std::vector<size_t> order_of(const TransferPlan& plan) {
    std::vector<size_t> order;
    for (const auto& table : plan.tables) order.push_back(table.source_index);
    return order;
}

size_t position(const std::vector<size_t>& order, size_t index) {
    return static_cast<size_t>(std::find(order.begin(), order.end(), index) - order.begin());
}

bool mentions(const std::vector<std::string>& problems, const std::string& text) {
    return std::any_of(problems.begin(), problems.end(),
                       [&](const std::string& p) { return p.find(text) != std::string::npos; });
}

// ---- tables that cannot be copied --------------------------------------------------------------

TEST(TransferPlan, MissingTargetTableIsAProblem) {
    TargetTable missing;  // exists = false
    const auto plan = plan_transfer({plain_source("pupils"), plain_source("classes")}, {missing, plain_target()},
                                    import_options());
    ASSERT_EQ(plan.problems.size(), 1u);
    EXPECT_NE(plan.problems[0].find("app.pupils"), std::string::npos) << plan.problems[0];
    EXPECT_NE(plan.problems[0].find("not in the target"), std::string::npos) << plan.problems[0];
    EXPECT_TRUE(plan.tables.empty());  // nothing is copied, not even the good table
}

TEST(TransferPlan, NonTenantTargetIsAProblemOnImport) {
    const auto plan = plan_transfer({plain_source("pupils")},
                                    {target({column("district_id", kUuid), column("id")}, {}, /*tenant_table=*/false)},
                                    import_options());
    ASSERT_EQ(plan.problems.size(), 1u);
    EXPECT_NE(plan.problems[0].find("app.pupils"), std::string::npos) << plan.problems[0];
    EXPECT_NE(plan.problems[0].find("not a tenant table"), std::string::npos) << plan.problems[0];
    EXPECT_TRUE(plan.tables.empty());
}

TEST(TransferPlan, SourceColumnMissingInTargetIsAProblemNamingIt) {
    const auto plan = plan_transfer({source("pupils", {column("district_id", kUuid), column("id"), column("nickname", kText)})},
                                    {plain_target()}, import_options());
    ASSERT_EQ(plan.problems.size(), 1u);
    EXPECT_NE(plan.problems[0].find("column nickname"), std::string::npos) << plan.problems[0];
    EXPECT_NE(plan.problems[0].find("app.pupils"), std::string::npos) << plan.problems[0];
    EXPECT_TRUE(plan.tables.empty());
}

TEST(TransferPlan, EveryProblemIsReported) {
    TargetTable missing;
    const auto plan = plan_transfer(
        {plain_source("a"), source("b", {column("id"), column("x"), column("y")}), plain_source("c")},
        {missing, target({column("id")}), target({column("id")}, {}, false)}, import_options());
    EXPECT_EQ(plan.problems.size(), 4u);
    EXPECT_TRUE(mentions(plan.problems, "app.a"));
    EXPECT_TRUE(mentions(plan.problems, "column x"));
    EXPECT_TRUE(mentions(plan.problems, "column y"));
    EXPECT_TRUE(mentions(plan.problems, "app.c"));
    EXPECT_TRUE(plan.tables.empty());
}

TEST(TransferPlan, TableWithNothingButTenantAndGeneratedColumnsHasNoColumnToCopy) {
    const auto plan = plan_transfer(
        {source("tags", {column("district_id", kUuid), generated_column("label_upper", kText)})},
        {target({column("district_id", kUuid), generated_column("label_upper", kText)})}, import_options());
    ASSERT_EQ(plan.problems.size(), 1u);
    EXPECT_NE(plan.problems[0].find("app.tags"), std::string::npos) << plan.problems[0];
    EXPECT_NE(plan.problems[0].find("has no column to copy"), std::string::npos) << plan.problems[0];
    EXPECT_TRUE(plan.tables.empty());
}

TEST(TransferPlan, ColumnsAllGeneratedInTargetLeaveNothingToCopy) {
    const auto plan = plan_transfer({source("t", {column("district_id", kUuid), column("total")})},
                                    {target({column("district_id", kUuid), generated_column("total")})},
                                    import_options());
    ASSERT_EQ(plan.problems.size(), 1u);
    EXPECT_NE(plan.problems[0].find("has no column to copy"), std::string::npos) << plan.problems[0];
}

// ---- columns -----------------------------------------------------------------------------------

TEST(TransferPlan, TenantAndSourceGeneratedColumnsAreNeverCopied) {
    const auto plan = plan_transfer(
        {source("pupils", {column("id"), column("district_id", kUuid), column("name", kText),
                           generated_column("name_upper", kText), column("age")})},
        {target({column("age"), generated_column("name_upper", kText), column("name", kText),
                 column("district_id", kUuid), column("id")})},
        import_options());
    ASSERT_TRUE(plan.problems.empty()) << plan.problems[0];
    ASSERT_EQ(plan.tables.size(), 1u);
    // Source order, not target order; no tenant column; no generated column.
    EXPECT_EQ(plan.tables[0].columns, (std::vector<std::string>{"id", "name", "age"}));
    EXPECT_EQ(plan.tables[0].source_index, 0u);
    EXPECT_FALSE(plan.tables[0].send_tenant_column);
}

TEST(TransferPlan, SourceGeneratedColumnThatIsDataInTheTargetIsAProblem) {
    // COPY leaves generated columns out: the target's ordinary column would be left NULL.
    const auto plan = plan_transfer(
        {source("people", {column("district_id", kUuid), column("id"), generated_column("full_name", kText)})},
        {target({column("district_id", kUuid), column("id"), column("full_name", kText)})}, import_options());
    ASSERT_EQ(plan.problems.size(), 1u);
    EXPECT_NE(plan.problems[0].find("column full_name"), std::string::npos) << plan.problems[0];
    EXPECT_NE(plan.problems[0].find("generated in the source"), std::string::npos) << plan.problems[0];
    EXPECT_TRUE(plan.tables.empty());
}

TEST(TransferPlan, SourceGeneratedColumnMissingInTargetIsNoProblem) {
    const auto plan = plan_transfer({source("t", {column("district_id", kUuid), column("id"), generated_column("g")})},
                                    {plain_target()}, import_options());
    EXPECT_TRUE(plan.problems.empty());
    ASSERT_EQ(plan.tables.size(), 1u);
    EXPECT_EQ(plan.tables[0].columns, (std::vector<std::string>{"id"}));
}

TEST(TransferPlan, ColumnGeneratedInTargetIsSkipped) {
    const auto plan = plan_transfer({source("orders", {column("district_id", kUuid), column("id"), column("total")})},
                                    {target({column("district_id", kUuid), column("id"), generated_column("total")})},
                                    import_options());
    ASSERT_TRUE(plan.problems.empty()) << plan.problems[0];
    ASSERT_EQ(plan.tables.size(), 1u);
    EXPECT_EQ(plan.tables[0].columns, (std::vector<std::string>{"id"}));
}

TEST(TransferPlan, TenantColumnMissingInTargetDoesNotMatterOnImport) {
    // The tenant column is never compared: the target's own column (whatever it holds) fills it.
    const auto plan =
        plan_transfer({plain_source("t")}, {target({column("id")})}, import_options());
    EXPECT_TRUE(plan.problems.empty());
    ASSERT_EQ(plan.tables.size(), 1u);
    EXPECT_EQ(plan.tables[0].columns, (std::vector<std::string>{"id"}));
}

// ---- binary COPY -------------------------------------------------------------------------------

TEST(TransferPlan, BinaryWhenEveryCopiedColumnHasTheSameBuiltinType) {
    const auto plan = plan_transfer({source("t", {column("district_id", kUuid), column("id"), column("name", kText)})},
                                    {target({column("district_id", kUuid), column("id"), column("name", kText)})},
                                    import_options());
    ASSERT_EQ(plan.tables.size(), 1u);
    EXPECT_TRUE(plan.tables[0].binary);
}

TEST(TransferPlan, NotBinaryWhenAnOidDiffers) {
    const auto plan = plan_transfer({source("t", {column("id"), column("name", kText)})},
                                    {target({column("id"), column("name", 1043 /* varchar */)})}, import_options());
    ASSERT_EQ(plan.tables.size(), 1u);
    EXPECT_FALSE(plan.tables[0].binary);
    EXPECT_EQ(plan.tables[0].columns, (std::vector<std::string>{"id", "name"}));
}

TEST(TransferPlan, NotBinaryForANonBuiltinTypeEvenWithTheSameOid) {
    const auto same_oid = plan_transfer({source("t", {column("id"), column("mood", kEnumHere, false)})},
                                        {target({column("id"), column("mood", kEnumHere, false)})}, import_options());
    ASSERT_EQ(same_oid.tables.size(), 1u);
    EXPECT_FALSE(same_oid.tables[0].binary);

    const auto only_source = plan_transfer({source("t", {column("id"), column("mood", kEnumHere, false)})},
                                           {target({column("id"), column("mood", kEnumHere, true)})}, import_options());
    ASSERT_EQ(only_source.tables.size(), 1u);
    EXPECT_FALSE(only_source.tables[0].binary);

    const auto only_target = plan_transfer({source("t", {column("id"), column("mood", kEnumHere, true)})},
                                           {target({column("id"), column("mood", kEnumThere, false)})}, import_options());
    ASSERT_EQ(only_target.tables.size(), 1u);
    EXPECT_FALSE(only_target.tables[0].binary);
}

TEST(TransferPlan, ColumnsThatAreNotCopiedDoNotSpoilBinary) {
    // The tenant column, a source-generated and a target-generated column all have odd types.
    const auto plan = plan_transfer(
        {source("t", {column("district_id", kEnumHere, false), column("id"), generated_column("g", kEnumHere),
                      column("h", kEnumHere, false)})},
        {target({column("district_id", kEnumThere, false), column("id"), column("g", kEnumThere, false, /*generated=*/true),
                 column("h", kEnumThere, false, /*generated=*/true)})},
        import_options());
    ASSERT_TRUE(plan.problems.empty()) << plan.problems[0];
    ASSERT_EQ(plan.tables.size(), 1u);
    EXPECT_EQ(plan.tables[0].columns, (std::vector<std::string>{"id"}));
    EXPECT_TRUE(plan.tables[0].binary);
}

TEST(TransferPlan, BinaryIsDecidedPerTable) {
    const auto plan = plan_transfer({source("a", {column("id")}), source("b", {column("id")})},
                                    {target({column("id")}), target({column("id", 20 /* int8 */)})}, import_options());
    ASSERT_EQ(plan.tables.size(), 2u);
    EXPECT_TRUE(plan.tables[0].binary);
    EXPECT_FALSE(plan.tables[1].binary);
}

// ---- export ------------------------------------------------------------------------------------

TEST(TransferPlan, ExportIntoTargetWithTenantColumnSendsIt) {
    const auto plan =
        plan_transfer({source("t", {column("district_id", kUuid), column("id")})},
                      {target({column("district_id", kUuid), column("id")}, {}, /*tenant_table=*/false)}, export_options());
    ASSERT_TRUE(plan.problems.empty()) << plan.problems[0];
    ASSERT_EQ(plan.tables.size(), 1u);
    EXPECT_TRUE(plan.tables[0].send_tenant_column);
    EXPECT_FALSE(plan.tables[0].binary);  // every other column would allow it
    EXPECT_EQ(plan.tables[0].columns, (std::vector<std::string>{"id"}));
}

TEST(TransferPlan, ExportIntoTargetWithoutTenantColumnDoesNotSendIt) {
    const auto plan = plan_transfer({source("t", {column("district_id", kUuid), column("id")})},
                                    {target({column("id")}, {}, /*tenant_table=*/false)}, export_options());
    ASSERT_TRUE(plan.problems.empty()) << plan.problems[0];
    ASSERT_EQ(plan.tables.size(), 1u);
    EXPECT_FALSE(plan.tables[0].send_tenant_column);
    EXPECT_TRUE(plan.tables[0].binary);
    EXPECT_EQ(plan.tables[0].columns, (std::vector<std::string>{"id"}));
}

TEST(TransferPlan, ExportDoesNotSendATenantColumnTheTargetGenerates) {
    const auto plan = plan_transfer({plain_source("t")},
                                    {target({generated_column("district_id", kUuid), column("id")}, {}, false)},
                                    export_options());
    ASSERT_EQ(plan.tables.size(), 1u);
    EXPECT_FALSE(plan.tables[0].send_tenant_column);
    EXPECT_TRUE(plan.tables[0].binary);
}

TEST(TransferPlan, ExportStillNeedsTheTargetTable) {
    TargetTable missing;
    const auto plan = plan_transfer({plain_source("t")}, {missing}, export_options());
    ASSERT_EQ(plan.problems.size(), 1u);
    EXPECT_TRUE(plan.tables.empty());
}

TEST(TransferPlan, ImportNeverSendsTheTenantColumn) {
    const auto plan = plan_transfer({plain_source("t")}, {plain_target()}, import_options());
    ASSERT_EQ(plan.tables.size(), 1u);
    EXPECT_FALSE(plan.tables[0].send_tenant_column);
    EXPECT_TRUE(plan.tables[0].binary);
}

// ---- load order --------------------------------------------------------------------------------

TEST(TransferPlan, ParentsLoadBeforeChildrenInAChain) {
    // grandchild(0) -> child(1) -> parent(2): listed children first.
    const auto plan = plan_transfer({plain_source("grandchild"), plain_source("child"), plain_source("parent")},
                                    {plain_target({1}), plain_target({2}), plain_target()}, import_options());
    ASSERT_TRUE(plan.problems.empty());
    EXPECT_FALSE(plan.has_foreign_key_cycle);
    EXPECT_EQ(order_of(plan), (std::vector<size_t>{2, 1, 0}));
}

TEST(TransferPlan, ParentsLoadBeforeChildrenInADiamond) {
    // bottom(0) -> left(1), right(2); left, right -> top(3).
    const auto plan =
        plan_transfer({plain_source("bottom"), plain_source("left"), plain_source("right"), plain_source("top")},
                      {plain_target({1, 2}), plain_target({3}), plain_target({3}), plain_target()}, import_options());
    ASSERT_TRUE(plan.problems.empty());
    EXPECT_FALSE(plan.has_foreign_key_cycle);
    const auto order = order_of(plan);
    ASSERT_EQ(order.size(), 4u);
    EXPECT_LT(position(order, 3), position(order, 1));
    EXPECT_LT(position(order, 3), position(order, 2));
    EXPECT_LT(position(order, 1), position(order, 0));
    EXPECT_LT(position(order, 2), position(order, 0));
    EXPECT_EQ(order, (std::vector<size_t>{3, 1, 2, 0}));  // ties go to the lower source index
}

TEST(TransferPlan, IndependentTablesKeepSourceOrder) {
    const auto plan = plan_transfer({plain_source("a"), plain_source("b"), plain_source("c")},
                                    {plain_target(), plain_target(), plain_target()}, import_options());
    EXPECT_EQ(order_of(plan), (std::vector<size_t>{0, 1, 2}));
    EXPECT_EQ(plan.tables[1].columns, (std::vector<std::string>{"id"}));
}

TEST(TransferPlan, DuplicateReferencesAreHarmless) {
    const auto plan = plan_transfer({plain_source("child"), plain_source("parent")},
                                    {plain_target({1, 1, 1}), plain_target()}, import_options());
    EXPECT_FALSE(plan.has_foreign_key_cycle);
    EXPECT_EQ(order_of(plan), (std::vector<size_t>{1, 0}));
}

TEST(TransferPlan, SelfReferencesAreIgnored) {
    // employees(0) references itself (manager) and departments(1).
    const auto plan = plan_transfer({plain_source("employees"), plain_source("departments")},
                                    {plain_target({0, 1}), plain_target({1})}, import_options());
    ASSERT_TRUE(plan.problems.empty());
    EXPECT_FALSE(plan.has_foreign_key_cycle);
    EXPECT_EQ(order_of(plan), (std::vector<size_t>{1, 0}));
}

bool names(const TransferPlan& plan, const std::string& table) {
    return !plan.problems.empty() && plan.problems[0].find(table) != std::string::npos;
}

TEST(TransferPlan, CycleIsRefusedNamingItsTables) {
    // a(0) <-> b(1), c(2) -> a, d(3) independent: rows may refer both ways, no order loads parents first.
    const auto plan = plan_transfer({plain_source("a"), plain_source("b"), plain_source("c"), plain_source("d")},
                                    {plain_target({1}), plain_target({0}), plain_target({0}), plain_target()},
                                    import_options());
    EXPECT_TRUE(plan.has_foreign_key_cycle);
    ASSERT_EQ(plan.problems.size(), 1u);
    EXPECT_TRUE(names(plan, "app.a") && names(plan, "app.b")) << plan.problems[0];
    EXPECT_FALSE(names(plan, "app.c") || names(plan, "app.d")) << plan.problems[0];
    EXPECT_NE(plan.problems[0].find("refer to each other"), std::string::npos);
    EXPECT_TRUE(plan.tables.empty());
}

TEST(TransferPlan, ThreeTableCycleNamesEveryMember) {
    // a(0) -> b(1) -> c(2) -> a(0), and a child of the cycle that is not on it.
    const auto plan = plan_transfer({plain_source("child"), plain_source("a"), plain_source("b"), plain_source("c")},
                                    {plain_target({1}), plain_target({2}), plain_target({3}), plain_target({1})},
                                    import_options());
    EXPECT_TRUE(plan.has_foreign_key_cycle);
    EXPECT_TRUE(names(plan, "app.a") && names(plan, "app.b") && names(plan, "app.c")) << plan.problems[0];
    EXPECT_FALSE(names(plan, "app.child")) << plan.problems[0];
    EXPECT_TRUE(plan.tables.empty());
}

TEST(TransferPlan, ATableListedTwiceIsAProblem) {
    // Only a lying source catalog does this; loading the table twice must not follow.
    const auto plan = plan_transfer({plain_source("a"), plain_source("b"), plain_source("a")},
                                    {plain_target(), plain_target(), plain_target()}, import_options());
    ASSERT_EQ(plan.problems.size(), 1u);
    EXPECT_NE(plan.problems[0].find("app.a is listed more than once"), std::string::npos) << plan.problems[0];
    EXPECT_TRUE(plan.tables.empty());
}

TEST(TransferPlan, SelfReferenceIsNoCycle) {
    const auto plan = plan_transfer({plain_source("staff")}, {plain_target({0})}, import_options());
    EXPECT_FALSE(plan.has_foreign_key_cycle);
    EXPECT_TRUE(plan.problems.empty());
    EXPECT_EQ(plan.tables.size(), 1u);
}

TEST(TransferPlan, NoCycleFlagWithoutACycle) {
    const auto plan = plan_transfer({plain_source("a")}, {plain_target()}, import_options());
    EXPECT_FALSE(plan.has_foreign_key_cycle);
    const auto empty = plan_transfer({}, {}, import_options());
    EXPECT_TRUE(empty.problems.empty());
    EXPECT_TRUE(empty.tables.empty());
    EXPECT_FALSE(empty.has_foreign_key_cycle);
}

// ---- invalid input -----------------------------------------------------------------------------

TEST(TransferPlan, MismatchedSizesThrow) {
    EXPECT_THROW(plan_transfer({plain_source("a"), plain_source("b")}, {plain_target()}, import_options()),
                 std::invalid_argument);
    EXPECT_THROW(plan_transfer({}, {plain_target()}, import_options()), std::invalid_argument);
}

TEST(TransferPlan, ReferenceOutOfRangeThrows) {
    EXPECT_THROW(plan_transfer({plain_source("a"), plain_source("b")}, {plain_target(), plain_target({2})},
                               import_options()),
                 std::out_of_range);
    EXPECT_THROW(plan_transfer({plain_source("a")}, {plain_target({static_cast<size_t>(-1)})}, import_options()),
                 std::out_of_range);
}

// ---- quoting -----------------------------------------------------------------------------------

TEST(QuotedIdentifier, AlwaysQuotes) {
    EXPECT_EQ(quoted_identifier("pupils"), "\"pupils\"");
    EXPECT_EQ(quoted_identifier("Pupils"), "\"Pupils\"");
    EXPECT_EQ(quoted_identifier(""), "\"\"");
}

TEST(QuotedIdentifier, DoublesEmbeddedDoubleQuotes) {
    EXPECT_EQ(quoted_identifier("a\"b"), "\"a\"\"b\"");
    EXPECT_EQ(quoted_identifier("\""), "\"\"\"\"");
    EXPECT_EQ(quoted_identifier("x\"\"y"), "\"x\"\"\"\"y\"");
    EXPECT_EQ(quoted_identifier("it's"), "\"it's\"");  // single quotes are left alone
}

TEST(QuotedTableName, QuotesSchemaAndNameSeparately) {
    EXPECT_EQ(quoted_table_name("app", "pupils"), "\"app\".\"pupils\"");
    EXPECT_EQ(quoted_table_name("my.schema", "a\"b"), "\"my.schema\".\"a\"\"b\"");
}

}  // namespace
}  // namespace tenant_guard::core
