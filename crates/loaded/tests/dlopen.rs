//! Loads the built `libloaded.so` the way Exim does (dlopen + dlsym) and calls `dltest`.

use std::ffi::{c_int, c_uchar, CStr, CString};
use std::path::PathBuf;

type DlFunc = unsafe extern "C" fn(*mut *mut c_uchar, c_int, *mut *mut c_uchar) -> c_int;

/// The libloaded.so cargo built with this test: beside the test binary in
/// target/<profile>/deps (the crate is also an rlib, so `cargo test` builds the lib).
fn library() -> PathBuf {
    let exe = std::env::current_exe().expect("test binary path");
    let deps = exe.parent().expect("target/<profile>/deps");
    deps.join("libloaded.so")
}

fn call(f: DlFunc, args: &[&str]) -> (c_int, Option<String>) {
    let owned: Vec<CString> = args.iter().map(|a| CString::new(*a).unwrap()).collect();
    let mut argv: Vec<*mut c_uchar> = owned.iter().map(|c| c.as_ptr() as *mut c_uchar).collect();
    let mut result: *mut c_uchar = std::ptr::null_mut();
    // SAFETY: Exim's dlfunc calling convention, with argv valid for the call.
    let rc = unsafe { f(&mut result, args.len() as c_int, argv.as_mut_ptr()) };
    let text = (!result.is_null())
        // SAFETY: dltest leaves result null or sets a NUL-terminated string.
        .then(|| {
            unsafe { CStr::from_ptr(result.cast()) }
                .to_string_lossy()
                .into_owned()
        });
    (rc, text)
}

#[test]
fn dlopen_and_call_dltest() {
    let path = library();
    assert!(path.is_file(), "{} was not built", path.display());
    // SAFETY: loading our own library, which has no initialisers with preconditions.
    let lib = unsafe { libloading::Library::new(&path) }.expect("dlopen libloaded.so");
    // SAFETY: dltest has exactly the DlFunc signature.
    let dltest: libloading::Symbol<DlFunc> = unsafe { lib.get(b"dltest\0") }.expect("dlsym dltest");
    assert_eq!(call(*dltest, &[]), (0, None));
    assert_eq!(call(*dltest, &["arg1"]), (0, Some("arg1".into())));
    assert_eq!(
        call(*dltest, &["x", "failed here"]),
        (2, Some("failed here".into()))
    );
    assert_eq!(
        call(*dltest, &["x", "y", "forced"]),
        (4, Some("forced".into()))
    );
    assert_eq!(
        call(*dltest, &["1", "2", "3", "4", "5"]),
        (3, Some("dltest: argc=5".into()))
    );
    // SAFETY: as above; a missing symbol must simply not be found.
    assert!(unsafe { lib.get::<DlFunc>(b"no_such_function\0") }.is_err());
}
