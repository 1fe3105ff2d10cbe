size_t bucket = absl::Hash<std::string>()(name) % 8;
