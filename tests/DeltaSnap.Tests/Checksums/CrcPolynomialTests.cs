using DeltaSnap.Checksums;

namespace DeltaSnap.Tests.Checksums;

/// <summary>The GF(2) arithmetic the folding constants and CRC combining are derived from.</summary>
public class CrcPolynomialTests
{

    [Test]
    public void BuildByteTable_knownPolynomials_matchesPublishedTables()
    {
        // Entry 1 of a reflected table is the polynomial shifted through 8 bits; entry 128 is the reflected polynomial.
        Assert.That(CrcPolynomial.Castagnoli.BuildByteTable()[128], Is.EqualTo(0x82F63B78UL));
        Assert.That(CrcPolynomial.Castagnoli.BuildByteTable()[1], Is.EqualTo(0xF26B8303UL));
        Assert.That(CrcPolynomial.Iso.BuildByteTable()[128], Is.EqualTo(0xD800000000000000UL));
        Assert.That(CrcPolynomial.Iso.BuildByteTable()[1], Is.EqualTo(0x01B0000000000000UL));
    }

    [Test]
    public void Power_sumOfExponents_equalsProductOfPowers([Values(32, 64)] int width)
    {
        var polynomial = Polynomial(width);
        var random = new Random(polynomial.Width);
        for (var i = 0; i < 200; i++)
        {
            var a = random.NextInt64(-5000, 1L << 40);
            var b = random.NextInt64(-5000, 1L << 40);
            Assert.That(polynomial.Multiply(polynomial.Power(a), polynomial.Power(b)), Is.EqualTo(polynomial.Power(a + b)), $"{a} + {b}");
        }
    }

    [Test]
    public void XInverse_timesX_isOne([Values(32, 64)] int width) =>
        Assert.That(Polynomial(width).MultiplyByX(Polynomial(width).XInverse), Is.EqualTo(1UL));

    [Test]
    public void Power_registerOfXPower_equalsCrcOfShiftedOne([Values(32, 64)] int width)
    {
        var polynomial = Polynomial(width);
        // A raw register fed the single byte 0x01 (x^7 in the message's top bit order) from state 0 holds
        // x^7 · x^W mod P: the definition the folding constants rest on.
        var table = polynomial.BuildByteTable();
        Assert.That(table[0x01], Is.EqualTo(polynomial.ToRegister(polynomial.Power(7 + polynomial.Width))));
        Assert.That(table[0x80], Is.EqualTo(polynomial.ToRegister(polynomial.Power(polynomial.Width))));
    }

    [Test]
    public void RegisterForm_roundTrips([Values(32, 64)] int width)
    {
        var polynomial = Polynomial(width);
        var random = new Random(1);
        var mask = polynomial.Width == 64 ? ulong.MaxValue : (1UL << polynomial.Width) - 1;
        for (var i = 0; i < 100; i++)
        {
            var value = (ulong)random.NextInt64() & mask;
            Assert.That(polynomial.FromRegister(polynomial.ToRegister(value)), Is.EqualTo(value));
        }
    }

    private static CrcPolynomial Polynomial(int width) => width == 32 ? CrcPolynomial.Castagnoli : CrcPolynomial.Iso;
}
