absl::flat_hash_map<int, Connection*> by_id;
