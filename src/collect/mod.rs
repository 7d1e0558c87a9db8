//! Evidence collection.
