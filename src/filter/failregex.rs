//! Compiled fail/ignore/pref regexes (in progress).
