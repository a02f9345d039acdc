//! A 256-bit signed integer, just enough for exact sums of squares: a product of two i128s
//! (up to 38 digits each) always fits, and so does a sum of many of them, so that variances
//! are computed from exact sums whatever order partial states merge in.

/// Sign and magnitude, four little-endian 64-bit limbs.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Wide {
    pub neg: bool,
    pub mag: [u64; 4],
}

impl Wide {
    /// The exact product `a * b`.
    pub fn product(a: i128, b: i128) -> Wide {
        let (x, y) = (a.unsigned_abs(), b.unsigned_abs());
        let xs = [x as u64, (x >> 64) as u64];
        let ys = [y as u64, (y >> 64) as u64];
        let mut mag = [0u64; 4];
        for (i, &xi) in xs.iter().enumerate() {
            let mut carry: u128 = 0;
            for (j, &yj) in ys.iter().enumerate() {
                let t = u128::from(xi) * u128::from(yj) + u128::from(mag[i + j]) + carry;
                mag[i + j] = t as u64;
                carry = t >> 64;
            }
            mag[i + 2] = carry as u64;
        }
        Wide {
            neg: (a < 0) != (b < 0) && mag != [0; 4],
            mag,
        }
    }

    /// `self * m`, or `None` on overflow.
    pub fn mul_small(&self, m: u64) -> Option<Wide> {
        let mut mag = [0u64; 4];
        let mut carry: u128 = 0;
        for (i, &l) in self.mag.iter().enumerate() {
            let t = u128::from(l) * u128::from(m) + carry;
            mag[i] = t as u64;
            carry = t >> 64;
        }
        (carry == 0).then_some(Wide {
            neg: self.neg && mag != [0; 4],
            mag,
        })
    }

    /// `self * 10^k`, or `None` on overflow.
    pub fn scale_up(&self, k: u32) -> Option<Wide> {
        let mut w = *self;
        for _ in 0..k {
            w = w.mul_small(10)?;
        }
        Some(w)
    }

    fn cmp_mag(a: &[u64; 4], b: &[u64; 4]) -> std::cmp::Ordering {
        for i in (0..4).rev() {
            match a[i].cmp(&b[i]) {
                std::cmp::Ordering::Equal => continue,
                o => return o,
            }
        }
        std::cmp::Ordering::Equal
    }

    fn add_mag(a: &[u64; 4], b: &[u64; 4]) -> Option<[u64; 4]> {
        let mut out = [0u64; 4];
        let mut carry = 0u128;
        for i in 0..4 {
            let t = u128::from(a[i]) + u128::from(b[i]) + carry;
            out[i] = t as u64;
            carry = t >> 64;
        }
        (carry == 0).then_some(out)
    }

    /// `a - b` for `a >= b`.
    fn sub_mag(a: &[u64; 4], b: &[u64; 4]) -> [u64; 4] {
        let mut out = [0u64; 4];
        let mut borrow = 0i128;
        for i in 0..4 {
            let t = i128::from(a[i]) - i128::from(b[i]) - borrow;
            if t < 0 {
                out[i] = (t + (1i128 << 64)) as u64;
                borrow = 1;
            } else {
                out[i] = t as u64;
                borrow = 0;
            }
        }
        out
    }

    /// `self + other`, or `None` on overflow.
    pub fn add(&self, other: &Wide) -> Option<Wide> {
        if self.neg == other.neg {
            let mag = Self::add_mag(&self.mag, &other.mag)?;
            return Some(Wide { neg: self.neg, mag });
        }
        match Self::cmp_mag(&self.mag, &other.mag) {
            std::cmp::Ordering::Less => Some(Wide {
                neg: other.neg,
                mag: Self::sub_mag(&other.mag, &self.mag),
            }),
            _ => {
                let mag = Self::sub_mag(&self.mag, &other.mag);
                Some(Wide {
                    neg: self.neg && mag != [0; 4],
                    mag,
                })
            }
        }
    }

    /// `self - other`, or `None` on overflow.
    pub fn sub(&self, other: &Wide) -> Option<Wide> {
        let neg = Wide {
            neg: !other.neg && other.mag != [0; 4],
            mag: other.mag,
        };
        self.add(&neg)
    }

    /// The nearest f64 (deterministic: one function of the exact value).
    pub fn to_f64(&self) -> f64 {
        let mut v = 0f64;
        for i in (0..4).rev() {
            v = v * 18_446_744_073_709_551_616.0 + self.mag[i] as f64;
        }
        if self.neg {
            -v
        } else {
            v
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arithmetic() {
        let p = Wide::product(-3, 7);
        assert_eq!(p.to_f64(), -21.0);
        let big = Wide::product(i128::MAX, i128::MAX);
        assert!((big.to_f64() - (i128::MAX as f64).powi(2)).abs() / big.to_f64() < 1e-15);
        let a = Wide::product(10, 10);
        let b = Wide::product(3, 4);
        assert_eq!(a.sub(&b).map(|w| w.to_f64()), Some(88.0));
        assert_eq!(b.sub(&a).map(|w| w.to_f64()), Some(-88.0));
        assert_eq!(a.scale_up(3).map(|w| w.to_f64()), Some(100_000.0));
        assert_eq!(
            Wide::product(5, 5).sub(&Wide::product(5, 5)),
            Some(Wide::default())
        );
    }
}
