// A test-only switch that changes one kernel's summation order, so that tests can start a process
// whose numerics differ from its peers' (the fingerprint check must refuse it). Never set in use.
#if canImport(Glibc)
    import Glibc
#else
    import Darwin
#endif

public enum NumericsSwitch {
    /// The environment variable that turns the perturbation on (any value).
    public static let environmentVariable = "DIGITS_TEST_PERTURB_NUMERICS"
    /// True when `DIGITS_TEST_PERTURB_NUMERICS` is set: the dense layer's bias gradient then sums its
    /// rows in reverse order. Read once per process.
    public static let perturbed: Bool = getenv(environmentVariable) != nil
}
