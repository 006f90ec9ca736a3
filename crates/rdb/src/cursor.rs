//! Bounded reads of one unit from the front of the input.
