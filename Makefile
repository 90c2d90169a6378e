# PGXS build of the extension: make, make install, make installcheck (pg_regress).
# The pure C++ core in src/core is compiled into the same shared library; CMakeLists.txt builds it
# separately for the GoogleTest suite and fuzzers.

EXTENSION = tenant_guard
MODULE_big = tenant_guard
DATA = $(wildcard src/sql/tenant_guard--*.sql)

CORE_SOURCES = $(wildcard src/core/*.cpp)
ADAPTER_SOURCES = $(wildcard src/pg/*.cpp)
OBJS = $(CORE_SOURCES:.cpp=.o) $(ADAPTER_SOURCES:.cpp=.o)

REGRESS = $(patsubst sql/%.sql,%,$(sort $(wildcard sql/*.sql)))
REGRESS_OPTS = --inputdir=.

# PGXS compiles C++ with $(CXX); -Wno-register because PostgreSQL headers still use `register`.
# PostgreSQL's headers are included as system headers so -Wextra reports our code, not theirs.
PG_CXXFLAGS = -std=c++17 -Wall -Wextra -Wno-register -fvisibility=hidden -isystem $(includedir_server) -isystem $(includedir)
# PGXS links with the C compiler: name the C++ runtime, OpenSSL and libpq (district import and
# export connect to other databases, as dblink does) ourselves.
SHLIB_LINK = -lstdc++ -lcrypto -lpq

# JIT bitcode is turned off for this module: PGXS would compile the C++ files to LLVM bitcode
# without our C++ flags. Policies call tenant_guard functions through fmgr, which JIT can call but
# not inline anyway, so nothing is lost. `override` because Makefile.global sets with_llvm = yes.
override with_llvm = no

PG_CONFIG ?= pg_config
PGXS := $(shell $(PG_CONFIG) --pgxs)
include $(PGXS)

# PGXS tracks no header dependencies: rebuild every object when any of our headers changes (a
# changed struct layout must never meet objects compiled against the old one).
$(OBJS): $(wildcard src/core/*.hpp src/pg/*.hpp)
