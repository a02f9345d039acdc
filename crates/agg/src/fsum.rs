//! Exactly rounded float sums: Shewchuk's non-overlapping partials, as Python's
//! `math.fsum` keeps them. The partials are the exact sum of every double added so far,
//! so two accumulators merge exactly (add one's partials to the other) and the rounded
//! result is the same whatever order values and partial states came in.
//!
//! inf and nan are summed apart (`inf + -inf` is nan, as IEEE says; `math.fsum` raises
//! there). A running sum past the largest double (an intermediate overflow, where
//! `math.fsum` raises too) is reported by [`Fsum::overflowed`].

/// An exact sum of doubles.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Fsum {
    /// Non-overlapping, increasing in magnitude; their exact sum is the finite part.
    partials: Vec<f64>,
    /// The sum of the inf and nan values, 0.0 while there are none.
    special: f64,
    /// A finite partial sum overflowed.
    overflow: bool,
}

impl Fsum {
    /// Add `x` exactly.
    #[inline]
    pub fn add(&mut self, mut x: f64) {
        if !x.is_finite() {
            self.special += x;
            return;
        }
        let mut i = 0;
        for j in 0..self.partials.len() {
            let mut y = self.partials[j];
            if x.abs() < y.abs() {
                std::mem::swap(&mut x, &mut y);
            }
            let hi = x + y;
            let lo = y - (hi - x);
            if lo != 0.0 {
                self.partials[i] = lo;
                i += 1;
            }
            x = hi;
        }
        self.partials.truncate(i);
        if x != 0.0 {
            if !x.is_finite() {
                // Two finite values whose sum is not: keep the flag, drop nothing more.
                self.overflow = true;
                return;
            }
            self.partials.push(x);
        }
    }

    /// Add an integer exactly (as up to three doubles).
    pub fn add_i128(&mut self, m: i128) {
        let mut r = m;
        while r != 0 {
            let d = r as f64;
            self.add(d);
            r -= d as i128;
        }
    }

    /// Fold another accumulator in (exactly).
    pub fn merge(&mut self, other: &Fsum) {
        for &p in &other.partials {
            self.add(p);
        }
        self.special += other.special;
        self.overflow |= other.overflow;
    }

    /// Whether a finite partial sum overflowed (`math.fsum`: "intermediate overflow").
    pub fn overflowed(&self) -> bool {
        self.overflow
    }

    /// The doubles whose exact sum this is (partials, then the special sum when there is
    /// one), for partial states; [`Fsum::add`]ing them back gives the same accumulator.
    pub fn terms(&self) -> impl Iterator<Item = f64> + '_ {
        self.partials
            .iter()
            .copied()
            .chain((self.special != 0.0 || self.special.is_nan()).then_some(self.special))
    }

    /// Mark as overflowed (when decoding a partial state that was).
    pub fn set_overflow(&mut self) {
        self.overflow = true;
    }

    /// The exactly rounded sum (round half to even), as `math.fsum` computes it.
    pub fn value(&self) -> f64 {
        if self.special != 0.0 || self.special.is_nan() {
            return self.special;
        }
        let p = &self.partials;
        let mut n = p.len();
        if n == 0 {
            return 0.0;
        }
        n -= 1;
        let mut hi = p[n];
        let mut lo = 0.0;
        while n > 0 {
            let x = hi;
            n -= 1;
            let y = p[n];
            hi = x + y;
            let yr = hi - x;
            lo = y - yr;
            if lo != 0.0 {
                break;
            }
        }
        // Make half-way cases round like the exact sum: when the rest (partials below)
        // has the same sign as `lo`, the true sum is past the half-way point.
        if n > 0 && ((lo < 0.0 && p[n - 1] < 0.0) || (lo > 0.0 && p[n - 1] > 0.0)) {
            let y = lo * 2.0;
            let x = hi + y;
            let yr = x - hi;
            if y == yr {
                hi = x;
            }
        }
        hi
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fsum(v: &[f64]) -> f64 {
        let mut s = Fsum::default();
        for &x in v {
            s.add(x);
        }
        s.value()
    }

    #[test]
    fn exactly_rounded() {
        assert_eq!(fsum(&[1e16, 1.0, -1e16]), 1.0);
        assert_eq!(fsum(&[0.1; 10]), 1.0);
        assert_eq!(fsum(&[1e308, -1e308, 1e308, -1e308]), 0.0);
        assert_eq!(fsum(&[1.0, 1e100, 1.0, -1e100]), 2.0);
        // Half-way: 2^53 + 1 ties to even, + a tiny bit more rounds up.
        let big = 9007199254740992.0;
        assert_eq!(fsum(&[big, 1.0]), big);
        assert_eq!(fsum(&[big, 1.0, 1e-100]), big + 2.0);
        assert_eq!(fsum(&[5e-324, 5e-324, -5e-324]), 5e-324);
        assert!(fsum(&[f64::INFINITY, 1.0]).is_infinite());
        assert!(fsum(&[f64::INFINITY, f64::NEG_INFINITY]).is_nan());
        assert!(fsum(&[f64::NAN, 1.0]).is_nan());
        let mut s = Fsum::default();
        s.add(1.7e308);
        s.add(1.7e308);
        assert!(s.overflowed());
    }

    #[test]
    fn merging_is_exact_in_any_order() {
        let v = [
            1e17, -1e17, 0.001, 3.5e-300, 1e17, 0.001, -1e-3, 7.0, 1e22, -1e22,
        ];
        let whole = fsum(&v);
        for cut in 0..=v.len() {
            let (mut a, mut b) = (Fsum::default(), Fsum::default());
            v[..cut].iter().for_each(|&x| a.add(x));
            v[cut..].iter().for_each(|&x| b.add(x));
            let mut ba = b.clone();
            ba.merge(&a);
            a.merge(&b);
            assert_eq!(a.value().to_bits(), whole.to_bits());
            assert_eq!(ba.value().to_bits(), whole.to_bits());
        }
        let mut i = Fsum::default();
        i.add_i128((1i128 << 100) + 1);
        i.add(-((1u128 << 100) as f64));
        assert_eq!(i.value(), 1.0);
        let m = 9_999_999_999_999_999_999_999_999_999_999_999_999_i128;
        let mut j = Fsum::default();
        j.add_i128(m);
        assert_eq!(j.value(), m as f64);
    }
}
