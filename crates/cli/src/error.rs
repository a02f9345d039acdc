//! The one error type at the top of every tool, and what each error means for the exit
//! status: 0 success (and a closed downstream pipe), 1 runtime or data error, 2 usage error,
//! 128 + N for signal N.

use std::io;

/// An error that ends a tool.
#[derive(Debug)]
pub enum Error {
    /// Bad command line: status 2.
    Usage(String),
    /// Bad data or a failed operation: status 1.
    Runtime(String),
    /// An I/O error while doing `context`: status 1, or a quiet 0 for a broken pipe.
    Io(String, io::Error),
    /// Already reported (or nothing to say): exit with this status.
    Exit(i32),
}

pub type Result<T> = std::result::Result<T, Error>;

impl Error {
    /// An I/O error with the file or operation it concerns.
    pub fn io(context: impl Into<String>, e: io::Error) -> Error {
        Error::Io(context.into(), e)
    }

    /// Whether this is a write to a closed pipe, anywhere in its chain.
    pub fn is_broken_pipe(&self) -> bool {
        matches!(self, Error::Io(_, e) if e.kind() == io::ErrorKind::BrokenPipe)
    }

    /// The exit status.
    pub fn code(&self) -> i32 {
        match self {
            Error::Usage(_) => 2,
            Error::Exit(c) => *c,
            _ if self.is_broken_pipe() => 0,
            _ => 1,
        }
    }

    /// The one-line message, without the tool's prefix; `None` when nothing is to be said.
    pub fn message(&self) -> Option<String> {
        match self {
            Error::Usage(m) | Error::Runtime(m) => Some(m.clone()),
            Error::Io(_, _) if self.is_broken_pipe() => None,
            Error::Io(c, e) => Some(format!("{c}: {}", describe(e))),
            Error::Exit(_) => None,
        }
    }
}

/// An io::Error as a short sentence, without Rust's "(os error N)" suffix.
pub fn describe(e: &io::Error) -> String {
    let s = e.to_string();
    match s.find(" (os error") {
        Some(i) => s[..i].to_string(),
        None => s,
    }
}

impl From<agg::engine::Error> for Error {
    fn from(e: agg::engine::Error) -> Error {
        match e {
            agg::engine::Error::Data(m) => Error::Runtime(m),
            agg::engine::Error::Usage(m) => Error::Usage(m),
            agg::engine::Error::Io(context, e) => Error::Io(context, e),
            agg::engine::Error::Sort(e) => Error::from(e),
            agg::engine::Error::Exit(c) => Error::Exit(c),
        }
    }
}

impl From<extsort::Error> for Error {
    fn from(e: extsort::Error) -> Error {
        match e {
            extsort::Error::Io { context, source } => Error::Io(context, source),
            extsort::Error::Interrupted => Error::Exit(130),
            other => Error::Runtime(other.to_string()),
        }
    }
}

impl From<join::Error> for Error {
    fn from(e: join::Error) -> Error {
        match e {
            join::Error::Io { context, source } => Error::Io(context, source),
            join::Error::Interrupted => Error::Exit(130),
            join::Error::Usage(m) => Error::Usage(m),
            join::Error::Sort(e) => Error::from(e),
            e => Error::Runtime(e.to_string()),
        }
    }
}

impl From<partition::DirError> for Error {
    fn from(e: partition::DirError) -> Error {
        match e {
            partition::DirError::Io { context, source } => Error::Io(context, source),
            e => Error::Runtime(e.to_string()),
        }
    }
}

/// A `-k` that does not parse is a usage error.
impl From<record::KeyError> for Error {
    fn from(e: record::KeyError) -> Error {
        Error::Usage(e.to_string())
    }
}
