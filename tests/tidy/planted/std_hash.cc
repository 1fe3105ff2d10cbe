size_t h = std::hash<int>()(42);
