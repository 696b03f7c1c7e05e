// Writes an `HDF5Group` tree to a new HDF5 file with libhdf5: groups, fixed-length string
// attributes (as h5py writes `bytes`) and contiguous little-endian Float32 datasets.
import CHDF5
import ModelExport

public struct HDF5Error: Error, CustomStringConvertible {
    public let description: String
}

public enum HDF5Writer {
    /// Creates (or truncates) `path` and writes `root` into it.
    public static func write(_ root: HDF5Group, to path: String) throws {
        chdf5_silence_errors()
        let file = H5Fcreate(path, chdf5_acc_trunc(), chdf5_default(), chdf5_default())
        guard file >= 0 else { throw HDF5Error(description: "\(path): cannot create an HDF5 file there") }
        var closed = false
        defer { if !closed { H5Fclose(file) } }
        try write(root, into: file, at: "/", file: path)
        guard H5Fclose(file) >= 0 else {
            closed = true
            throw HDF5Error(description: "\(path): closing the HDF5 file failed")
        }
        closed = true
    }

    static func write(_ group: HDF5Group, into location: hid_t, at path: String, file: String) throws {
        func fail(_ what: String) -> HDF5Error { HDF5Error(description: "\(file): \(what) at \(path) failed") }
        for (name, value) in group.attributes {
            switch value {
            case .string(let s): try writeStrings([s], scalar: true, name: name, on: location, fail: fail)
            case .strings(let list): try writeStrings(list, scalar: false, name: name, on: location, fail: fail)
            }
        }
        for (name, child) in group.groups {
            let g = H5Gcreate2(location, name, chdf5_default(), chdf5_default(), chdf5_default())
            guard g >= 0 else { throw fail("creating group '\(name)'") }
            defer { H5Gclose(g) }
            try write(child, into: g, at: path == "/" ? "/\(name)" : "\(path)/\(name)", file: file)
        }
        for (name, dataset) in group.datasets {
            var dims = dataset.shape.map { hsize_t($0) }
            let space = H5Screate_simple(Int32(dims.count), &dims, nil)
            guard space >= 0 else { throw fail("creating the dataspace of '\(name)'") }
            defer { H5Sclose(space) }
            let d = H5Dcreate2(location, name, chdf5_ieee_f32le(), space, chdf5_default(), chdf5_default(), chdf5_default())
            guard d >= 0 else { throw fail("creating dataset '\(name)'") }
            defer { H5Dclose(d) }
            let status = dataset.values.withUnsafeBufferPointer { H5Dwrite(d, chdf5_native_float(), 0, 0, chdf5_default(), $0.baseAddress) }
            guard status >= 0 else { throw fail("writing dataset '\(name)'") }
        }
    }

    /// Fixed-length, NUL-padded strings (at least 1 byte each): a scalar, or a 1-D array that may be empty.
    static func writeStrings(
        _ strings: [String], scalar: Bool, name: String, on location: hid_t,
        fail: (String) -> HDF5Error
    ) throws {
        let encoded = strings.map { Array($0.utf8) }
        let size = max(1, encoded.map(\.count).max() ?? 1)
        let type = H5Tcopy(chdf5_c_s1())
        guard type >= 0 else { throw fail("creating a string type for '\(name)'") }
        defer { H5Tclose(type) }
        guard H5Tset_size(type, size) >= 0, H5Tset_strpad(type, H5T_STR_NULLPAD) >= 0 else {
            throw fail("sizing the string type of '\(name)'")
        }
        var dims = [hsize_t(encoded.count)]
        let space = scalar ? chdf5_scalar_space() : H5Screate_simple(1, &dims, nil)
        guard space >= 0 else { throw fail("creating the dataspace of attribute '\(name)'") }
        defer { H5Sclose(space) }
        let attribute = H5Acreate2(location, name, type, space, chdf5_default(), chdf5_default())
        guard attribute >= 0 else { throw fail("creating attribute '\(name)'") }
        defer { H5Aclose(attribute) }
        var buffer = [UInt8](repeating: 0, count: max(1, size * encoded.count))
        for (i, e) in encoded.enumerated() { buffer.replaceSubrange((i * size)..<(i * size + e.count), with: e) }
        guard H5Awrite(attribute, type, buffer) >= 0 else { throw fail("writing attribute '\(name)'") }
    }
}
