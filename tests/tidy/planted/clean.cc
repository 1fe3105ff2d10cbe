// Allowed: thread identity is not a thread, comments may say rand() or
// std::thread, and a justified opt-out passes.
std::atomic<std::thread::id> owner{std::this_thread::get_id()};
std::map<uint64_t, std::unique_ptr<Connection>> by_id;
std::set<std::string> names;  // rand() in a comment is fine
absl::flat_hash_map<int, int> lookup;  // tidy: allow looked up only
int operand = 3;  // "operand(" is not rand(
