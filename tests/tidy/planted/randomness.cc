std::uniform_int_distribution<int> d(0, 9);
