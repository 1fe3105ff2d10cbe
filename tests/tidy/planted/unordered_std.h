std::unordered_set<std::string> names;
