#include "sim/h5.hpp"

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <system_error>

namespace sim::h5 {

namespace {

// HDF5 1.10 crashes in its exit handler (H5_term_library -> H5F__close_cb) when a file
// failed to close, as it does after the disk filled up: the user would see a segfault
// instead of our message and exit code 2. Every file here is closed by its Handle, so the
// handler has nothing left to do; switching it off must happen before the process's
// first HDF5 call, hence at static initialisation.
[[maybe_unused]] const bool hdf5_exit_handler_off = (H5dont_atexit() >= 0);

// The description HDF5 recorded closest to where an error happened (for a failed open:
// "unable to open file: name = '...', errno = 2, error message = 'No such file or
// directory'..."). Empty when the stack is empty.
std::string innermost_reason() {
  std::string reason;
  auto take_first = [](unsigned n, const H5E_error2_t* err, void* data) -> herr_t {
    auto* out = static_cast<std::string*>(data);
    if (n == 0 && err->desc != nullptr) *out = err->desc;
    return 0;
  };
  H5Ewalk2(H5E_DEFAULT, H5E_WALK_UPWARD, take_first, &reason);
  H5Eclear2(H5E_DEFAULT);
  // Low-level I/O failures carry a long record (time, descriptor, buffer address, ...)
  // around the system's message; keep the headline and the message.
  const std::string marker = "error message = '";
  const size_t at = reason.find(marker);
  if (at != std::string::npos) {
    const size_t begin = at + marker.size();
    const size_t end = reason.find('\'', begin);
    const std::string headline = reason.substr(0, reason.find(':'));
    reason = headline + ": " + reason.substr(begin, end == std::string::npos ? end : end - begin);
  }
  return reason;
}

[[noreturn]] void fail(const std::string& where, const std::string& what) {
  std::string message = where + ": " + what;
  const std::string reason = innermost_reason();
  if (!reason.empty()) message += " (" + reason + ")";
  throw Error(message);
}

// Checks an identifier returned by HDF5 and takes ownership of it.
Handle own(hid_t id, Handle::Closer close, const std::string& where, const std::string& what) {
  if (id < 0) fail(where, what);
  return Handle(id, close);
}

void check(herr_t status, const std::string& where, const std::string& what) {
  if (status < 0) fail(where, what);
}

Handle scalar_space(const std::string& where) {
  return own(H5Screate(H5S_SCALAR), H5Sclose, where, "creating a scalar dataspace");
}

Handle simple_space(std::span<const hsize_t> dims, const std::string& where,
                    std::span<const hsize_t> max_dims = {}) {
  return own(H5Screate_simple(static_cast<int>(dims.size()), dims.data(),
                              max_dims.empty() ? nullptr : max_dims.data()),
             H5Sclose, where, "creating a dataspace");
}

// Variable-length UTF-8 string type: what h5py reads back as str.
Handle vlen_string_type(const std::string& where) {
  Handle type = own(H5Tcopy(H5T_C_S1), H5Tclose, where, "copying the string type");
  check(H5Tset_size(type.get(), H5T_VARIABLE), where, "making a variable-length string type");
  check(H5Tset_cset(type.get(), H5T_CSET_UTF8), where, "setting UTF-8 on the string type");
  return type;
}

std::string type_description(hid_t type) {
  const H5T_class_t cls = H5Tget_class(type);
  const size_t bytes = H5Tget_size(type);
  const std::string bits = std::to_string(8 * bytes);
  switch (cls) {
    case H5T_INTEGER:
      return (H5Tget_sign(type) == H5T_SGN_NONE ? "uint" : "int") + bits;
    case H5T_FLOAT:
      return "float" + bits;
    case H5T_STRING:
      return "string";
    case H5T_ENUM: {
      Handle base(H5Tget_super(type), H5Tclose);
      return "enum(" + (base.valid() ? type_description(base.get()) : std::string("?")) + ")";
    }
    case H5T_COMPOUND:
      return "compound";
    case H5T_ARRAY:
      return "array";
    case H5T_VLEN:
      return "vlen";
    default:
      return "other";
  }
}

std::string shape_suffix(hid_t space) {
  const int rank = H5Sget_simple_extent_ndims(space);
  if (rank <= 0) return "";
  std::vector<hsize_t> dims(static_cast<size_t>(rank));
  H5Sget_simple_extent_dims(space, dims.data(), nullptr);
  std::string out = "[";
  for (size_t i = 0; i < dims.size(); ++i) {
    if (i > 0) out += ',';
    out += std::to_string(dims[i]);
  }
  return out + "]";
}

hsize_t element_count(hid_t space) {
  const hssize_t n = H5Sget_simple_extent_npoints(space);
  return n < 0 ? 0 : static_cast<hsize_t>(n);
}

// Reads string values of any HDF5 string flavour (variable or fixed length) held by an
// attribute or dataset, through the given read function.
template <class Read>
std::vector<std::string> read_any_strings(hid_t file_type, hsize_t count, const std::string& where,
                                          Read&& read) {
  if (H5Tget_class(file_type) != H5T_STRING)
    fail(where, "expected a string, found " + type_description(file_type));
  std::vector<std::string> out;
  out.reserve(count);
  if (count == 0) return out;
  const htri_t variable = H5Tis_variable_str(file_type);
  if (variable < 0) fail(where, "querying the string type");
  if (variable > 0) {
    Handle mem = vlen_string_type(where);
    std::vector<char*> raw(count, nullptr);
    check(read(mem.get(), raw.data()), where, "reading strings");
    for (char* s : raw) out.emplace_back(s ? s : "");
    // The library allocated each string; hand them back to it.
    Handle space = simple_space(std::vector<hsize_t>{count}, where);
    // H5Dvlen_reclaim: HDF5 1.10's name for what 1.12 calls H5Treclaim.
    H5Dvlen_reclaim(mem.get(), space.get(), H5P_DEFAULT, raw.data());
  } else {
    const size_t width = H5Tget_size(file_type);
    Handle mem = own(H5Tcopy(file_type), H5Tclose, where, "copying the string type");
    std::vector<char> raw(width * count);
    check(read(mem.get(), raw.data()), where, "reading strings");
    for (hsize_t i = 0; i < count; ++i) {
      const char* begin = raw.data() + i * width;
      out.emplace_back(begin, strnlen(begin, width));
    }
  }
  return out;
}

}  // namespace

template <>
hid_t native_type<uint8_t>() {
  return H5T_NATIVE_UINT8;
}
template <>
hid_t native_type<int32_t>() {
  return H5T_NATIVE_INT32;
}
template <>
hid_t native_type<uint32_t>() {
  return H5T_NATIVE_UINT32;
}
template <>
hid_t native_type<uint64_t>() {
  return H5T_NATIVE_UINT64;
}
template <>
hid_t native_type<double>() {
  return H5T_NATIVE_DOUBLE;
}

void silence_error_printing() { H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr); }

herr_t Handle::reset() noexcept {
  herr_t status = 0;
  if (id_ >= 0 && close_ != nullptr) status = close_(id_);
  id_ = H5I_INVALID_HID;
  return status;
}

// ---- Object: attributes ---------------------------------------------------------------

std::string Object::where() const { return file_name_ + ":" + path_; }

std::string Object::child_path(std::string_view name) const {
  if (!name.empty() && name.front() == '/') return std::string(name);
  if (path_ == "/") return "/" + std::string(name);
  return path_ + "/" + std::string(name);
}

namespace {

bool same_extent(hid_t a, hid_t b) {
  const int rank = H5Sget_simple_extent_ndims(a);
  if (rank < 0 || rank != H5Sget_simple_extent_ndims(b)) return false;
  std::vector<hsize_t> da(static_cast<size_t>(rank)), db(static_cast<size_t>(rank));
  if (rank > 0) {
    H5Sget_simple_extent_dims(a, da.data(), nullptr);
    H5Sget_simple_extent_dims(b, db.data(), nullptr);
  }
  return H5Sget_simple_extent_type(a) == H5Sget_simple_extent_type(b) && da == db;
}

// Creates attribute `name` with this type and space. An existing attribute of the same
// type and shape is reused (so a value updated every epoch does not churn the object
// header); any other existing one is deleted first, so the stored type is always exactly
// what the caller asked for.
Handle create_attribute(const Object& owner, std::string_view name, hid_t type, hid_t space) {
  const std::string attr(name);
  const std::string where = owner.where() + " attribute '" + attr + "'";
  const htri_t exists = H5Aexists(owner.id(), attr.c_str());
  if (exists < 0) fail(where, "checking whether the attribute exists");
  if (exists > 0) {
    Handle old = own(H5Aopen(owner.id(), attr.c_str(), H5P_DEFAULT), H5Aclose, where,
                     "opening the attribute");
    Handle old_type = own(H5Aget_type(old.get()), H5Tclose, where, "reading the type");
    Handle old_space = own(H5Aget_space(old.get()), H5Sclose, where, "reading the dataspace");
    if (H5Tequal(old_type.get(), type) > 0 && same_extent(old_space.get(), space)) return old;
    old.reset();
    check(H5Adelete(owner.id(), attr.c_str()), where, "replacing the attribute");
  }
  return own(H5Acreate2(owner.id(), attr.c_str(), type, space, H5P_DEFAULT, H5P_DEFAULT), H5Aclose,
             where, "creating the attribute");
}

Handle open_attribute(const Object& owner, std::string_view name) {
  const std::string attr(name);
  const std::string where = owner.where() + " attribute '" + attr + "'";
  const htri_t exists = H5Aexists(owner.id(), attr.c_str());
  if (exists < 0) fail(where, "checking whether the attribute exists");
  if (exists == 0) throw Error(where + ": no such attribute");
  return own(H5Aopen(owner.id(), attr.c_str(), H5P_DEFAULT), H5Aclose, where,
             "opening the attribute");
}

}  // namespace

template <Scalar T>
void Object::write_attribute(std::string_view name, T value) {
  const std::string where = this->where() + " attribute '" + std::string(name) + "'";
  Handle space = scalar_space(where);
  Handle attr = create_attribute(*this, name, native_type<T>(), space.get());
  check(H5Awrite(attr.get(), native_type<T>(), &value), where, "writing the attribute");
}

template <Scalar T>
void Object::write_attribute(std::string_view name, std::span<const T> values) {
  const std::string where = this->where() + " attribute '" + std::string(name) + "'";
  Handle space = simple_space(std::vector<hsize_t>{values.size()}, where);
  Handle attr = create_attribute(*this, name, native_type<T>(), space.get());
  if (!values.empty())
    check(H5Awrite(attr.get(), native_type<T>(), values.data()), where, "writing the attribute");
}

void Object::write_attribute(std::string_view name, std::string_view text) {
  const std::string where = this->where() + " attribute '" + std::string(name) + "'";
  Handle type = vlen_string_type(where);
  Handle space = scalar_space(where);
  Handle attr = create_attribute(*this, name, type.get(), space.get());
  const std::string copy(text);  // NUL-terminated
  const char* ptr = copy.c_str();
  check(H5Awrite(attr.get(), type.get(), &ptr), where, "writing the attribute");
}

void Object::write_enum_attribute(std::string_view name, std::span<const EnumMember> members,
                                  uint8_t value) {
  const std::string where = this->where() + " attribute '" + std::string(name) + "'";
  Handle type = own(H5Tenum_create(H5T_NATIVE_UINT8), H5Tclose, where, "creating an enum type");
  for (const EnumMember& m : members)
    check(H5Tenum_insert(type.get(), m.name.c_str(), &m.value), where,
          "adding enum member '" + m.name + "'");
  Handle space = scalar_space(where);
  Handle attr = create_attribute(*this, name, type.get(), space.get());
  check(H5Awrite(attr.get(), type.get(), &value), where, "writing the attribute");
}

bool Object::has_attribute(std::string_view name) const {
  const std::string attr(name);
  const htri_t exists = H5Aexists(id(), attr.c_str());
  if (exists < 0) fail(where() + " attribute '" + attr + "'", "checking whether it exists");
  return exists > 0;
}

std::vector<std::string> Object::attribute_names() const {
  std::vector<std::string> names;
  auto collect = [](hid_t, const char* attr_name, const H5A_info_t*, void* data) -> herr_t {
    static_cast<std::vector<std::string>*>(data)->emplace_back(attr_name);
    return 0;
  };
  hsize_t index = 0;
  check(H5Aiterate2(id(), H5_INDEX_NAME, H5_ITER_INC, &index, collect, &names), where(),
        "listing attributes");
  return names;
}

template <Scalar T>
T Object::read_attribute(std::string_view name) const {
  const std::string where = this->where() + " attribute '" + std::string(name) + "'";
  Handle attr = open_attribute(*this, name);
  Handle space = own(H5Aget_space(attr.get()), H5Sclose, where, "reading the dataspace");
  if (element_count(space.get()) != 1) throw Error(where + ": expected a single value");
  T value{};
  check(H5Aread(attr.get(), native_type<T>(), &value), where, "reading the attribute");
  return value;
}

template <Scalar T>
std::vector<T> Object::read_attribute_array(std::string_view name) const {
  const std::string where = this->where() + " attribute '" + std::string(name) + "'";
  Handle attr = open_attribute(*this, name);
  Handle space = own(H5Aget_space(attr.get()), H5Sclose, where, "reading the dataspace");
  std::vector<T> values(element_count(space.get()));
  if (!values.empty())
    check(H5Aread(attr.get(), native_type<T>(), values.data()), where, "reading the attribute");
  return values;
}

std::string Object::read_string_attribute(std::string_view name) const {
  const std::string where = this->where() + " attribute '" + std::string(name) + "'";
  Handle attr = open_attribute(*this, name);
  Handle type = own(H5Aget_type(attr.get()), H5Tclose, where, "reading the type");
  Handle space = own(H5Aget_space(attr.get()), H5Sclose, where, "reading the dataspace");
  if (element_count(space.get()) != 1) throw Error(where + ": expected a single string");
  auto strings = read_any_strings(
      type.get(), 1, where, [&](hid_t mem, void* buf) { return H5Aread(attr.get(), mem, buf); });
  return strings.front();
}

std::string Object::read_enum_attribute(std::string_view name) const {
  const std::string where = this->where() + " attribute '" + std::string(name) + "'";
  Handle attr = open_attribute(*this, name);
  Handle type = own(H5Aget_type(attr.get()), H5Tclose, where, "reading the type");
  if (H5Tget_class(type.get()) != H5T_ENUM) throw Error(where + ": not an enum attribute");
  Handle native =
      own(H5Tget_native_type(type.get(), H5T_DIR_ASCEND), H5Tclose, where, "reading the type");
  std::vector<unsigned char> value(H5Tget_size(native.get()));
  check(H5Aread(attr.get(), native.get(), value.data()), where, "reading the attribute");
  char member[256] = {};
  check(H5Tenum_nameof(native.get(), value.data(), member, sizeof member), where,
        "naming the enum value");
  return member;
}

std::string Object::attribute_type_name(std::string_view name) const {
  const std::string where = this->where() + " attribute '" + std::string(name) + "'";
  Handle attr = open_attribute(*this, name);
  Handle type = own(H5Aget_type(attr.get()), H5Tclose, where, "reading the type");
  Handle space = own(H5Aget_space(attr.get()), H5Sclose, where, "reading the dataspace");
  return type_description(type.get()) + shape_suffix(space.get());
}

// ---- Dataset --------------------------------------------------------------------------

std::vector<hsize_t> Dataset::shape() const {
  Handle space = own(H5Dget_space(id()), H5Sclose, where(), "reading the dataspace");
  const int rank = H5Sget_simple_extent_ndims(space.get());
  if (rank < 0) fail(where(), "reading the rank");
  std::vector<hsize_t> dims(static_cast<size_t>(rank));
  if (rank > 0) H5Sget_simple_extent_dims(space.get(), dims.data(), nullptr);
  return dims;
}

hsize_t Dataset::size() const {
  Handle space = own(H5Dget_space(id()), H5Sclose, where(), "reading the dataspace");
  return element_count(space.get());
}

std::string Dataset::type_name() const {
  Handle type = own(H5Dget_type(id()), H5Tclose, where(), "reading the type");
  return type_description(type.get());
}

template <Scalar T>
std::vector<T> Dataset::read() const {
  std::vector<T> values(size());
  if (!values.empty())
    check(H5Dread(id(), native_type<T>(), H5S_ALL, H5S_ALL, H5P_DEFAULT, values.data()), where(),
          "reading the dataset");
  return values;
}

template <Scalar T>
std::vector<T> Dataset::read(hsize_t offset, hsize_t count) const {
  Handle file_space = own(H5Dget_space(id()), H5Sclose, where(), "reading the dataspace");
  if (H5Sget_simple_extent_ndims(file_space.get()) != 1)
    throw Error(where() + ": a range read needs a 1-D dataset");
  const hsize_t n = element_count(file_space.get());
  if (offset > n || count > n - offset)
    throw Error(where() + ": range [" + std::to_string(offset) + ", " +
                std::to_string(offset + count) + ") is outside its " + std::to_string(n) +
                " elements");
  std::vector<T> values(count);
  if (count == 0) return values;
  check(H5Sselect_hyperslab(file_space.get(), H5S_SELECT_SET, &offset, nullptr, &count, nullptr),
        where(), "selecting a range");
  Handle mem_space = simple_space(std::vector<hsize_t>{count}, where());
  check(H5Dread(id(), native_type<T>(), mem_space.get(), file_space.get(), H5P_DEFAULT,
                values.data()),
        where(), "reading the dataset");
  return values;
}

std::vector<std::string> Dataset::read_strings() const {
  Handle type = own(H5Dget_type(id()), H5Tclose, where(), "reading the type");
  return read_any_strings(type.get(), size(), where(), [&](hid_t mem, void* buf) {
    return H5Dread(id(), mem, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf);
  });
}

// ---- Group ----------------------------------------------------------------------------

Group Group::create_group(std::string_view path) {
  const std::string full = child_path(path);
  const std::string where = file_name_ + ":" + full;
  Handle lcpl = own(H5Pcreate(H5P_LINK_CREATE), H5Pclose, where, "creating a property list");
  check(H5Pset_create_intermediate_group(lcpl.get(), 1), where, "enabling intermediate groups");
  const std::string relative(path);
  Handle group = own(H5Gcreate2(id(), relative.c_str(), lcpl.get(), H5P_DEFAULT, H5P_DEFAULT),
                     H5Gclose, where, "creating the group");
  return Group(std::move(group), file_name_, full);
}

Group Group::open_group(std::string_view path) const {
  const std::string full = child_path(path);
  const std::string where = file_name_ + ":" + full;
  if (!exists(path)) throw Error(where + ": no such group");
  const std::string relative(path);
  Handle group =
      own(H5Gopen2(id(), relative.c_str(), H5P_DEFAULT), H5Gclose, where, "opening the group");
  return Group(std::move(group), file_name_, full);
}

Group Group::require_group(std::string_view path) {
  return exists(path) ? open_group(path) : create_group(path);
}

bool Group::exists(std::string_view path) const {
  // H5Lexists fails (rather than answering false) when an intermediate link is missing,
  // so walk the path one component at a time.
  std::string prefix = (!path.empty() && path.front() == '/') ? "/" : "";
  size_t start = prefix.size();
  while (start < path.size()) {
    size_t end = path.find('/', start);
    if (end == std::string_view::npos) end = path.size();
    if (end > start) {
      if (!prefix.empty() && prefix.back() != '/') prefix += '/';
      prefix += path.substr(start, end - start);
      const htri_t found = H5Lexists(id(), prefix.c_str(), H5P_DEFAULT);
      if (found < 0) fail(file_name_ + ":" + child_path(prefix), "checking whether it exists");
      if (found == 0) return false;
    }
    start = end + 1;
  }
  return true;
}

namespace {
H5I_type_t object_kind(const Group& group, std::string_view path) {
  if (!group.exists(path)) return H5I_BADID;
  const std::string relative(path);
  Handle object(H5Oopen(group.id(), relative.c_str(), H5P_DEFAULT), H5Oclose);
  if (!object.valid()) {
    H5Eclear2(H5E_DEFAULT);  // e.g. a dangling soft link: not a group nor a dataset
    return H5I_BADID;
  }
  return H5Iget_type(object.get());
}
}  // namespace

bool Group::is_group(std::string_view path) const { return object_kind(*this, path) == H5I_GROUP; }

bool Group::is_dataset(std::string_view path) const {
  return object_kind(*this, path) == H5I_DATASET;
}

std::vector<std::string> Group::children() const {
  std::vector<std::string> names;
  auto collect = [](hid_t, const char* name, const H5L_info_t*, void* data) -> herr_t {
    static_cast<std::vector<std::string>*>(data)->emplace_back(name);
    return 0;
  };
  hsize_t index = 0;
  check(H5Literate(id(), H5_INDEX_NAME, H5_ITER_INC, &index, collect, &names), where(),
        "listing the group");
  return names;
}

namespace {
Handle create_dataset(const Group& parent, const std::string& name, hid_t type, hid_t space,
                      hid_t dcpl, const std::string& where) {
  return own(H5Dcreate2(parent.id(), name.c_str(), type, space, H5P_DEFAULT, dcpl, H5P_DEFAULT),
             H5Dclose, where, "creating the dataset");
}
}  // namespace

template <Scalar T>
Dataset Group::write_dataset(std::string_view name, std::span<const T> values) {
  const std::string full = child_path(name);
  const std::string where = file_name_ + ":" + full;
  Handle space = simple_space(std::vector<hsize_t>{values.size()}, where);
  Handle dataset =
      create_dataset(*this, std::string(name), native_type<T>(), space.get(), H5P_DEFAULT, where);
  if (!values.empty())
    check(H5Dwrite(dataset.get(), native_type<T>(), H5S_ALL, H5S_ALL, H5P_DEFAULT, values.data()),
          where, "writing the dataset");
  return Dataset(std::move(dataset), file_name_, full);
}

Dataset Group::write_dataset(std::string_view name, std::span<const std::string> values) {
  const std::string full = child_path(name);
  const std::string where = file_name_ + ":" + full;
  Handle type = vlen_string_type(where);
  Handle space = simple_space(std::vector<hsize_t>{values.size()}, where);
  Handle dataset =
      create_dataset(*this, std::string(name), type.get(), space.get(), H5P_DEFAULT, where);
  std::vector<const char*> pointers;
  pointers.reserve(values.size());
  for (const std::string& s : values) pointers.push_back(s.c_str());
  if (!values.empty())
    check(H5Dwrite(dataset.get(), type.get(), H5S_ALL, H5S_ALL, H5P_DEFAULT, pointers.data()),
          where, "writing the dataset");
  return Dataset(std::move(dataset), file_name_, full);
}

Dataset Group::write_matrix(std::string_view name, hsize_t rows, hsize_t cols, std::size_t count,
                            hid_t type, const void* row_major) {
  const std::string full = child_path(name);
  const std::string where = file_name_ + ":" + full;
  if (count != rows * cols)
    throw std::invalid_argument(where + ": " + std::to_string(count) + " values do not fill " +
                                std::to_string(rows) + " x " + std::to_string(cols));
  const hsize_t dims[2] = {rows, cols};
  Handle space = simple_space(dims, where);
  Handle dataset = create_dataset(*this, std::string(name), type, space.get(), H5P_DEFAULT, where);
  if (count > 0)
    check(H5Dwrite(dataset.get(), type, H5S_ALL, H5S_ALL, H5P_DEFAULT, row_major), where,
          "writing the dataset");
  return Dataset(std::move(dataset), file_name_, full);
}

Dataset Group::write_dataset_2d(std::string_view name, hsize_t rows, hsize_t cols,
                                std::span<const double> row_major) {
  return write_matrix(name, rows, cols, row_major.size(), H5T_NATIVE_DOUBLE, row_major.data());
}

Dataset Group::write_dataset_2d(std::string_view name, hsize_t rows, hsize_t cols,
                                std::span<const float> row_major) {
  return write_matrix(name, rows, cols, row_major.size(), H5T_NATIVE_FLOAT, row_major.data());
}

Dataset Group::open_dataset(std::string_view path) const {
  const std::string full = child_path(path);
  const std::string where = file_name_ + ":" + full;
  if (!exists(path)) throw Error(where + ": no such dataset");
  const std::string relative(path);
  Handle dataset =
      own(H5Dopen2(id(), relative.c_str(), H5P_DEFAULT), H5Dclose, where, "opening the dataset");
  return Dataset(std::move(dataset), file_name_, full);
}

// ---- File -----------------------------------------------------------------------------

File File::create(const std::string& file_name) {
  silence_error_printing();
  // Say what is wrong with the folder in plain words before HDF5 tries.
  namespace fs = std::filesystem;
  const fs::path parent = fs::path(file_name).parent_path();
  std::error_code ec;
  if (!parent.empty() && !fs::is_directory(parent, ec))
    throw Error(file_name + ": cannot create the file: folder '" + parent.string() +
                "' does not exist");
  if (fs::exists(fs::path(file_name), ec))
    throw Error(file_name + ": cannot create the file: it exists already");
  Handle fapl = own(H5Pcreate(H5P_FILE_ACCESS), H5Pclose, file_name, "creating a property list");
  check(H5Pset_file_locking(fapl.get(), false, true), file_name, "switching file locking off");
  Handle file = own(H5Fcreate(file_name.c_str(), H5F_ACC_EXCL, H5P_DEFAULT, fapl.get()), H5Fclose,
                    file_name, "cannot create the file");
  return File(std::move(file), file_name, "/");
}

File File::open_read_only(const std::string& file_name) {
  silence_error_printing();
  Handle fapl = own(H5Pcreate(H5P_FILE_ACCESS), H5Pclose, file_name, "creating a property list");
  check(H5Pset_file_locking(fapl.get(), false, true), file_name, "switching file locking off");
  Handle file = own(H5Fopen(file_name.c_str(), H5F_ACC_RDONLY, fapl.get()), H5Fclose, file_name,
                    "cannot open the file");
  return File(std::move(file), file_name, "/");
}

void File::flush() {
  check(H5Fflush(id(), H5F_SCOPE_GLOBAL), file_name_, "writing buffered data to the file failed");
}

void File::close() {
  if (!handle_.valid()) return;
  if (handle_.reset() < 0) fail(file_name_, "closing the file failed");
}

// ---- Appendable datasets --------------------------------------------------------------

template <Scalar T>
Appendable<T>::Appendable(Group& parent, std::string_view name, hsize_t chunk_elements) {
  const std::string full =
      parent.path() == "/" ? "/" + std::string(name) : parent.path() + "/" + std::string(name);
  const std::string where = parent.file_name() + ":" + full;
  if (chunk_elements == 0) throw std::invalid_argument(where + ": chunk size must be > 0");
  const hsize_t dims[1] = {0};
  const hsize_t max_dims[1] = {H5S_UNLIMITED};
  Handle space = simple_space(dims, where, max_dims);
  Handle dcpl = own(H5Pcreate(H5P_DATASET_CREATE), H5Pclose, where, "creating a property list");
  check(H5Pset_chunk(dcpl.get(), 1, &chunk_elements), where, "setting the chunk size");
  Handle dataset =
      create_dataset(parent, std::string(name), native_type<T>(), space.get(), dcpl.get(), where);
  dataset_ = Dataset(std::move(dataset), parent.file_name(), full);
}

namespace {
// Grows a dataset along its first dimension by `rows` and writes `data` into the new rows.
void append_rows(Dataset& dataset, hid_t mem_type, hsize_t old_rows, hsize_t rows, hsize_t columns,
                 bool two_d, const void* data) {
  const std::string where = dataset.where();
  const hsize_t new_dims[2] = {old_rows + rows, columns};
  check(H5Dset_extent(dataset.id(), new_dims), where, "growing the dataset");
  Handle file_space = own(H5Dget_space(dataset.id()), H5Sclose, where, "reading the dataspace");
  const hsize_t start[2] = {old_rows, 0};
  const hsize_t count[2] = {rows, columns};
  check(H5Sselect_hyperslab(file_space.get(), H5S_SELECT_SET, start, nullptr, count, nullptr),
        where, "selecting the new rows");
  Handle mem_space =
      own(H5Screate_simple(two_d ? 2 : 1, count, nullptr), H5Sclose, where, "creating a dataspace");
  check(H5Dwrite(dataset.id(), mem_type, mem_space.get(), file_space.get(), H5P_DEFAULT, data),
        where, "appending to the dataset");
}
}  // namespace

template <Scalar T>
void Appendable<T>::append(std::span<const T> values) {
  if (values.empty()) return;
  append_rows(dataset_, native_type<T>(), size_, values.size(), 1, false, values.data());
  size_ += values.size();
}

AppendableRows::AppendableRows(Group& parent, std::string_view name, hsize_t columns,
                               hsize_t chunk_rows)
    : columns_(columns) {
  const std::string full =
      parent.path() == "/" ? "/" + std::string(name) : parent.path() + "/" + std::string(name);
  const std::string where = parent.file_name() + ":" + full;
  // HDF5 chunks must have every dimension > 0, so a zero-column table cannot be chunked.
  if (columns == 0) throw std::invalid_argument(where + ": a table needs at least one column");
  if (chunk_rows == 0) throw std::invalid_argument(where + ": chunk size must be > 0");
  const hsize_t dims[2] = {0, columns};
  const hsize_t max_dims[2] = {H5S_UNLIMITED, columns};
  const hsize_t chunk[2] = {chunk_rows, columns};
  Handle space = simple_space(dims, where, max_dims);
  Handle dcpl = own(H5Pcreate(H5P_DATASET_CREATE), H5Pclose, where, "creating a property list");
  check(H5Pset_chunk(dcpl.get(), 2, chunk), where, "setting the chunk size");
  Handle dataset =
      create_dataset(parent, std::string(name), H5T_NATIVE_DOUBLE, space.get(), dcpl.get(), where);
  dataset_ = Dataset(std::move(dataset), parent.file_name(), full);
}

void AppendableRows::append(std::span<const double> row_major) {
  if (row_major.empty()) return;
  if (row_major.size() % columns_ != 0)
    throw std::invalid_argument(dataset_.where() + ": " + std::to_string(row_major.size()) +
                                " values are not whole rows of " + std::to_string(columns_));
  const hsize_t rows = row_major.size() / columns_;
  append_rows(dataset_, H5T_NATIVE_DOUBLE, rows_, rows, columns_, true, row_major.data());
  rows_ += rows;
}

// ---- explicit instantiations for the supported element types --------------------------

#define SNNSIM_H5_INSTANTIATE(T)                                                   \
  template void Object::write_attribute<T>(std::string_view, T);                   \
  template void Object::write_attribute<T>(std::string_view, std::span<const T>);  \
  template T Object::read_attribute<T>(std::string_view) const;                    \
  template std::vector<T> Object::read_attribute_array<T>(std::string_view) const; \
  template std::vector<T> Dataset::read<T>() const;                                \
  template std::vector<T> Dataset::read<T>(hsize_t, hsize_t) const;                \
  template Dataset Group::write_dataset<T>(std::string_view, std::span<const T>);  \
  template class Appendable<T>;

SNNSIM_H5_INSTANTIATE(uint8_t)
SNNSIM_H5_INSTANTIATE(int32_t)
SNNSIM_H5_INSTANTIATE(uint32_t)
SNNSIM_H5_INSTANTIATE(uint64_t)
SNNSIM_H5_INSTANTIATE(double)
#undef SNNSIM_H5_INSTANTIATE

}  // namespace sim::h5
