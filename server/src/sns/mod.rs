pub(crate) mod signing;
