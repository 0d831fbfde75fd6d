#pragma once
// A small owner layer over the HDF5 C API, used by the sinks and by experiments that add
// result groups to a run file.
//
// Why a layer: every HDF5 identifier must be closed with the matching H5?close, and every
// call can fail. Here each identifier is owned by one move-only Handle, and every failure
// throws h5::Error (a std::runtime_error) whose message names the file, the object path,
// what was attempted and HDF5's innermost reason ("No such file or directory", "No space
// left on device"). HDF5's own automatic error-stack printing is switched off, so a user
// sees one clear line instead of a stack dump.
//
// Supported element types (the ones our files use): uint8, int32, uint32, uint64, float64,
// variable-length UTF-8 strings, and a uint8-based enum for attributes.
// Multi-dimensional data is row-major (C order), as HDF5 and numpy store it.
#include <hdf5.h>

#include <concepts>
#include <cstdint>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace sim::h5 {

struct Error : std::runtime_error {
  using std::runtime_error::runtime_error;
};

template <class T>
concept Scalar = std::same_as<T, uint8_t> || std::same_as<T, int32_t> ||
    std::same_as<T, uint32_t> || std::same_as<T, uint64_t> || std::same_as<T, double>;

// The HDF5 native memory type of T (H5T_NATIVE_UINT8, ..., H5T_NATIVE_DOUBLE).
template <Scalar T>
hid_t native_type();
template <>
hid_t native_type<uint8_t>();
template <>
hid_t native_type<int32_t>();
template <>
hid_t native_type<uint32_t>();
template <>
hid_t native_type<uint64_t>();
template <>
hid_t native_type<double>();

// Turns off HDF5's automatic printing of its error stack for the calling thread. Called by
// File's constructors; harmless to call again.
void silence_error_printing();

// Owns one HDF5 identifier and closes it with the function that matches its kind.
class Handle {
 public:
  using Closer = herr_t (*)(hid_t);
  Handle() = default;
  Handle(hid_t id, Closer close) : id_(id), close_(close) {}
  Handle(Handle&& other) noexcept
      : id_(std::exchange(other.id_, H5I_INVALID_HID)), close_(other.close_) {}
  Handle& operator=(Handle&& other) noexcept {
    if (this != &other) {
      reset();
      id_ = std::exchange(other.id_, H5I_INVALID_HID);
      close_ = other.close_;
    }
    return *this;
  }
  Handle(const Handle&) = delete;
  Handle& operator=(const Handle&) = delete;
  ~Handle() { reset(); }

  hid_t get() const { return id_; }
  bool valid() const { return id_ >= 0; }
  // Closes now; a failure to close is reported by the caller that needs to know (File::close).
  herr_t reset() noexcept;

 private:
  hid_t id_ = H5I_INVALID_HID;
  Closer close_ = nullptr;
};

// One member of a uint8-based enum type, e.g. {"by_time", 2}.
struct EnumMember {
  std::string name;
  uint8_t value;
};

// Something attributes can be attached to: a file's root group, a group or a dataset.
class Object {
 public:
  hid_t id() const { return handle_.get(); }
  const std::string& file_name() const { return file_name_; }
  const std::string& path() const { return path_; }  // absolute path inside the file
  // "run/spikes.h5:/spikes/exc", for messages.
  std::string where() const;

  // Attributes are created, or replaced when they already exist.
  template <Scalar T>
  void write_attribute(std::string_view name, T value);
  template <Scalar T>
  void write_attribute(std::string_view name, std::span<const T> values);
  template <Scalar T>
  void write_attribute(std::string_view name, const std::vector<T>& values) {
    write_attribute(name, std::span<const T>(values));
  }
  void write_attribute(std::string_view name, std::string_view text);  // variable-length UTF-8
  void write_attribute(std::string_view name, const char* text) {
    write_attribute(name, std::string_view(text));
  }
  // A scalar attribute of an enum type over uint8 with these members.
  void write_enum_attribute(std::string_view name, std::span<const EnumMember> members,
                            uint8_t value);

  bool has_attribute(std::string_view name) const;
  std::vector<std::string> attribute_names() const;
  // Reads a scalar attribute, converting its stored numeric type to T (HDF5 conversion).
  template <Scalar T>
  T read_attribute(std::string_view name) const;
  template <Scalar T>
  std::vector<T> read_attribute_array(std::string_view name) const;
  // Variable-length or fixed-length string attribute.
  std::string read_string_attribute(std::string_view name) const;
  // The member name of an enum attribute's value.
  std::string read_enum_attribute(std::string_view name) const;
  // "uint32", "float64[2]", "string", "enum(uint8)": for descriptions.
  std::string attribute_type_name(std::string_view name) const;

 protected:
  Object(Handle handle, std::string file_name, std::string path)
      : handle_(std::move(handle)), file_name_(std::move(file_name)), path_(std::move(path)) {}
  Object() = default;
  std::string child_path(std::string_view name) const;

  Handle handle_;
  std::string file_name_;
  std::string path_;
};

class Dataset : public Object {
 public:
  std::vector<hsize_t> shape() const;
  hsize_t size() const;  // number of elements (product of the shape)
  // "uint64", "float64", "string", ...
  std::string type_name() const;
  // All elements, row-major, converted to T.
  template <Scalar T>
  std::vector<T> read() const;
  // Elements [offset, offset + count) of a 1-D dataset.
  template <Scalar T>
  std::vector<T> read(hsize_t offset, hsize_t count) const;
  std::vector<std::string> read_strings() const;

 private:
  friend class Group;
  template <Scalar T>
  friend class Appendable;
  friend class AppendableRows;
  using Object::Object;
};

class Group : public Object {
 public:
  // `path` is relative to this group, or absolute when it starts with '/'. Missing
  // intermediate groups are created.
  Group create_group(std::string_view path);
  Group open_group(std::string_view path) const;
  // Opens the group, creating it (and its parents) when missing.
  Group require_group(std::string_view path);
  bool exists(std::string_view path) const;  // a link of that name exists, at every level
  bool is_group(std::string_view path) const;
  bool is_dataset(std::string_view path) const;
  // Names of the direct children, in name order.
  std::vector<std::string> children() const;

  // Whole datasets, written once.
  template <Scalar T>
  Dataset write_dataset(std::string_view name, std::span<const T> values);
  template <Scalar T>
  Dataset write_dataset(std::string_view name, const std::vector<T>& values) {
    return write_dataset(name, std::span<const T>(values));
  }
  Dataset write_dataset(std::string_view name, std::span<const std::string> values);
  Dataset write_dataset(std::string_view name, const std::vector<std::string>& values) {
    return write_dataset(name, std::span<const std::string>(values));
  }
  Dataset write_dataset_2d(std::string_view name, hsize_t rows, hsize_t cols,
                           std::span<const double> row_major);
  // Stored as 32-bit IEEE floats (half the size, for large sample matrices).
  Dataset write_dataset_2d(std::string_view name, hsize_t rows, hsize_t cols,
                           std::span<const float> row_major);
  Dataset open_dataset(std::string_view path) const;

 protected:
  using Object::Object;

 private:
  Dataset write_matrix(std::string_view name, hsize_t rows, hsize_t cols, std::size_t count,
                       hid_t type, const void* row_major);
};

class File : public Group {
 public:
  // Files are opened without HDF5's file locks. HDF5 normally locks a file it writes, so
  // no other process can even open it until it is closed; without the lock, other
  // processes may open a growing file read-only (to watch a long run) and see it as it
  // was at the last flush(). Such a reader may catch a write in progress and fail; it
  // should retry. Two writers cannot collide: create() never opens an existing file.
  // (HDF5 also refuses to open one file twice in a process with different lock settings,
  // so the layer uses one setting throughout.)
  //
  // Creates a new file; fails when it exists already or the folder is missing/unwritable.
  static File create(const std::string& file_name);
  static File open_read_only(const std::string& file_name);

  // Writes every buffered piece of data and metadata to the file (H5Fflush).
  void flush();
  // Closes now and reports a failure (the destructor closes silently).
  void close();
  bool is_open() const { return handle_.valid(); }

 private:
  using Group::Group;
};

// A 1-D dataset that grows: unlimited maximum size, chunked storage. Each append() writes
// straight into the file (through HDF5's chunk cache); File::flush() makes it durable.
template <Scalar T>
class Appendable {
 public:
  Appendable() = default;
  Appendable(Group& parent, std::string_view name, hsize_t chunk_elements);
  void append(std::span<const T> values);
  hsize_t size() const { return size_; }
  Dataset& dataset() { return dataset_; }

 private:
  Dataset dataset_;
  hsize_t size_ = 0;
};

// A 2-D (rows × columns) float64 dataset that grows by rows; columns are fixed.
class AppendableRows {
 public:
  AppendableRows() = default;
  AppendableRows(Group& parent, std::string_view name, hsize_t columns, hsize_t chunk_rows);
  // `row_major` holds whole rows: its size must be a multiple of columns().
  void append(std::span<const double> row_major);
  hsize_t rows() const { return rows_; }
  hsize_t columns() const { return columns_; }
  Dataset& dataset() { return dataset_; }

 private:
  Dataset dataset_;
  hsize_t rows_ = 0;
  hsize_t columns_ = 0;
};

}  // namespace sim::h5
