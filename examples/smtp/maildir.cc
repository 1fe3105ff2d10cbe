#include "examples/smtp/maildir.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstring>
#include <string>
#include <string_view>

#include "absl/strings/str_cat.h"

namespace ember::examples {
namespace {

absl::Status Errno(std::string_view what, const std::string& path) {
  return absl::InternalError(absl::StrCat(std::string(what), " ", path, ": ",
                                          std::strerror(errno)));
}

absl::Status FsyncPath(const std::string& path, int flags) {
  const int fd = ::open(path.c_str(), flags | O_CLOEXEC);
  if (fd < 0) return Errno("open", path);
  const int rc = ::fsync(fd);
  ::close(fd);
  if (rc != 0) return Errno("fsync", path);
  return absl::OkStatus();
}

}  // namespace

absl::Status PrepareMaildir(const std::string& root) {
  for (const std::string& dir :
       {root, root + "/tmp", root + "/new", root + "/cur"}) {
    if (::mkdir(dir.c_str(), 0700) != 0 && errno != EEXIST) {
      return Errno("mkdir", dir);
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<std::string> DeliverToMaildir(const std::string& root,
                                             const std::string& unique_name,
                                             std::string_view message) {
  const std::string tmp = absl::StrCat(root, "/tmp/", unique_name);
  const std::string final_path = absl::StrCat(root, "/new/", unique_name);
  const int fd =
      ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0) return Errno("create", tmp);
  size_t written = 0;
  while (written < message.size()) {
    const ssize_t n =
        ::write(fd, message.data() + written, message.size() - written);
    if (n < 0) {
      if (errno == EINTR) continue;
      const absl::Status status = Errno("write", tmp);
      ::close(fd);
      ::unlink(tmp.c_str());
      return status;
    }
    written += static_cast<size_t>(n);
  }
  if (::fsync(fd) != 0) {
    const absl::Status status = Errno("fsync", tmp);
    ::close(fd);
    ::unlink(tmp.c_str());
    return status;
  }
  if (::close(fd) != 0) {
    const absl::Status status = Errno("close", tmp);
    ::unlink(tmp.c_str());
    return status;
  }
  if (::rename(tmp.c_str(), final_path.c_str()) != 0) {
    const absl::Status status = Errno("rename", tmp);
    ::unlink(tmp.c_str());
    return status;
  }
  // The rename is durable only once the directory is.
  absl::Status synced = FsyncPath(root + "/new", O_RDONLY | O_DIRECTORY);
  if (!synced.ok()) return synced;
  return final_path;
}

}  // namespace ember::examples
