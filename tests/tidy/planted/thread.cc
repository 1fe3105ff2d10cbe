std::thread worker([] { Work(); });
