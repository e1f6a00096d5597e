#include "query/store_reader.h"

namespace sluice::query {

sqlite::Stmt& StoreReader::Connection::statement(const std::string& sql) {
  auto it = statements.find(sql);
  if (it == statements.end()) it = statements.emplace(sql, db.prepare(sql)).first;
  it->second.reset();
  return it->second;
}

StoreReader::StoreReader(const std::string& path, int connections) {
  for (int i = 0; i < connections; ++i)
    free_.push_back(std::make_unique<Connection>(path));
}

}  // namespace sluice::query
