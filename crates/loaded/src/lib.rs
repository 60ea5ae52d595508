//! `loaded`: the library Exim's `${dlfunc}` tests load from `DIR/bin/loaded`.
//!
//! A Rust rewrite of Exim's test/src/loaded.c. Exim calls a dlfunc as
//! `int fn(uschar **yield, int argc, uschar *argv[])` and reads the return code with the
//! values of Exim's `local_scan.h` ([`OK`], [`FAIL`], [`FAIL_FORCED`], [`ERROR`]): on OK
//! `*yield` (if set) goes into the expansion, otherwise it is the error message.
//!
//! [`dltest`] lets a test choose every outcome by the number of arguments it passes.
//! Strings handed back are either Exim's own argument strings or leaked allocations: Exim
//! copies the result and never frees it, and the process is short-lived.

use std::ffi::{c_int, c_uchar, CString};

/// Exim's `OK`: the expansion uses `*yield`.
pub const OK: c_int = 0;
/// Exim's `FAIL`: the expansion fails with `*yield` as its message.
pub const FAIL: c_int = 2;
/// Exim's `ERROR`: as FAIL, and Exim also logs to the panic log.
pub const ERROR: c_int = 3;
/// Exim's `FAIL_FORCED`: a forced failure (the `fail` branch of an `${if}`-style item).
pub const FAIL_FORCED: c_int = 4;

/// The outcome [`dltest`] chooses for `argc` arguments.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// OK without setting `*yield` (Exim inserts nothing).
    Empty,
    /// OK with argument N as the result.
    Echo(usize),
    /// The return code, with argument N as the message.
    Fail { code: c_int, message_arg: usize },
    /// ERROR with a message saying how many arguments came.
    TooMany(usize),
}

/// The rule of [`dltest`]: 0 arguments → OK and nothing; 1 → OK and the argument;
/// 2 → FAIL with the second argument as message; 3 → FAIL_FORCED with the third;
/// more (or a negative count) → ERROR "dltest: argc=N".
pub fn outcome(argc: c_int) -> Outcome {
    match argc {
        0 => Outcome::Empty,
        1 => Outcome::Echo(0),
        2 => Outcome::Fail {
            code: FAIL,
            message_arg: 1,
        },
        3 => Outcome::Fail {
            code: FAIL_FORCED,
            message_arg: 2,
        },
        n => Outcome::TooMany(usize::try_from(n).unwrap_or(0)),
    }
}

/// Exim's `${dlfunc{DIR/bin/loaded}{dltest}{ARG}…}` test function; see [`outcome`].
///
/// # Safety
/// Exim's calling convention: `yield_` points to a writable pointer, and `argv` holds
/// `argc` NUL-terminated strings that outlive the call.
#[no_mangle]
pub unsafe extern "C" fn dltest(
    yield_: *mut *mut c_uchar,
    argc: c_int,
    argv: *mut *mut c_uchar,
) -> c_int {
    if yield_.is_null() {
        return ERROR;
    }
    let arg = |i: usize| -> *mut c_uchar {
        if argv.is_null() {
            std::ptr::null_mut()
        } else {
            // SAFETY: the caller guarantees argv has argc entries and i < argc here.
            unsafe { *argv.add(i) }
        }
    };
    match outcome(argc) {
        Outcome::Empty => OK,
        Outcome::Echo(i) => {
            // SAFETY: yield_ is non-null and writable per the calling convention.
            unsafe { *yield_ = arg(i) };
            OK
        }
        Outcome::Fail { code, message_arg } => {
            // SAFETY: as above.
            unsafe { *yield_ = arg(message_arg) };
            code
        }
        Outcome::TooMany(n) => {
            let message = CString::new(format!("dltest: argc={n}")).unwrap_or_default();
            // SAFETY: as above; the string is leaked on purpose (Exim copies it).
            unsafe { *yield_ = message.into_raw().cast::<c_uchar>() };
            ERROR
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::ffi::CStr;

    fn call(args: &[&str]) -> (c_int, Option<String>) {
        let owned: Vec<CString> = args.iter().map(|a| CString::new(*a).unwrap()).collect();
        let mut argv: Vec<*mut c_uchar> =
            owned.iter().map(|c| c.as_ptr() as *mut c_uchar).collect();
        let mut result: *mut c_uchar = std::ptr::null_mut();
        // SAFETY: argv holds args.len() valid strings that live until the end of this fn.
        let rc = unsafe { dltest(&mut result, args.len() as c_int, argv.as_mut_ptr()) };
        let text = (!result.is_null())
            // SAFETY: dltest sets result to a NUL-terminated string or leaves it null.
            .then(|| {
                unsafe { CStr::from_ptr(result.cast()) }
                    .to_string_lossy()
                    .into_owned()
            });
        (rc, text)
    }

    #[test]
    fn argument_count_chooses_the_outcome() {
        assert_eq!(call(&[]), (OK, None));
        assert_eq!(call(&["hello"]), (OK, Some("hello".into())));
        assert_eq!(
            call(&["a", "the message"]),
            (FAIL, Some("the message".into()))
        );
        assert_eq!(
            call(&["a", "b", "forced"]),
            (FAIL_FORCED, Some("forced".into()))
        );
        assert_eq!(
            call(&["a", "b", "c", "d"]),
            (ERROR, Some("dltest: argc=4".into()))
        );
    }

    #[test]
    fn null_pointers_are_refused() {
        // SAFETY: dltest checks yield for null before using anything.
        assert_eq!(
            unsafe { dltest(std::ptr::null_mut(), 0, std::ptr::null_mut()) },
            ERROR
        );
        assert_eq!(outcome(-1), Outcome::TooMany(0));
    }
}
