std::set<Connection*> ready;
