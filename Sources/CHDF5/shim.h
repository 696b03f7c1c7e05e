// libhdf5 (Debian libhdf5-dev 1.10, serial build; its headers live in /usr/include/hdf5/serial).
// HDF5's type and property-list "constants" are macros that call H5open(); Swift cannot import
// them, so small inline functions return them.
#include <hdf5/serial/hdf5.h>

static inline hid_t chdf5_native_float(void) { return H5T_NATIVE_FLOAT; }
static inline hid_t chdf5_native_double(void) { return H5T_NATIVE_DOUBLE; }
static inline hid_t chdf5_ieee_f32le(void) { return H5T_IEEE_F32LE; }
static inline hid_t chdf5_ieee_f64le(void) { return H5T_IEEE_F64LE; }
static inline hid_t chdf5_c_s1(void) { return H5T_C_S1; }
static inline unsigned chdf5_acc_trunc(void) { return H5F_ACC_TRUNC; }
static inline unsigned chdf5_acc_excl(void) { return H5F_ACC_EXCL; }
static inline hid_t chdf5_default(void) { return H5P_DEFAULT; }
static inline hid_t chdf5_scalar_space(void) { return H5Screate(H5S_SCALAR); }
// Turns off HDF5's automatic error-stack printing: failures are reported as one Error line instead.
static inline void chdf5_silence_errors(void) { H5Eset_auto2(H5E_DEFAULT, NULL, NULL); }
