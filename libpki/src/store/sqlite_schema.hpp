// The SQLite schema as an ordered list of migrations. Internal to the backend.
#pragma once

#include <sqlite3.h>

namespace pki::sqlite {

// The schema version this build writes and understands.
int latest_schema_version() noexcept;

// The version recorded on disk (0 for a fresh file).
int stored_schema_version(sqlite3* db);

// Brings the database up to latest_schema_version(), one migration per
// IMMEDIATE transaction. Error(store) if the file is newer than this build.
// `target` (tests only) stops at an older version, to build the stores an
// older devpki wrote.
void migrate(sqlite3* db, int target = 0);

}  // namespace pki::sqlite
