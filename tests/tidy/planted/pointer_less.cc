std::sort(v.begin(), v.end(), std::less<Handle*>());
