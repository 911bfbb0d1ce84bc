using System.Globalization;
using System.Security.Cryptography;
using System.Text.Json;
using System.Text.Json.Serialization;
using DeltaSnap.Cli.Commands;

namespace DeltaSnap.Bench;

/// <summary>
/// The declarative matrix a run measures (a small JSON file): backend pairs × volume sizes × change patterns × change
/// rates, the rounds per case, and which contenders run. <see cref="Sha256"/> is the file's hash, recorded in the report.
/// </summary>
// Settable, not init: the source-generated reader sets every init-only property, to its default when the file lacks it.
internal sealed record Matrix
{
    /// <summary>A name for the report.</summary>
    public string Name { get; set; } = "matrix";

    /// <summary>Measured rounds per case and contender (at least 5 for a report; the tests use fewer).</summary>
    public int Rounds { get; set; } = 5;

    /// <summary>Backend pairs (<see cref="BackendPairs.Names"/>).</summary>
    public IReadOnlyList<string> Pairs { get; set; } = [];

    /// <summary>Data sizes (<c>64M</c>, <c>1G</c>).</summary>
    public IReadOnlyList<string> Sizes { get; set; } = ["64M"];

    /// <summary>Change patterns, each with its own rates or the matrix's <see cref="Rates"/>.</summary>
    public IReadOnlyList<PatternEntry> Patterns { get; set; } = [];

    /// <summary>Change rates in percent, for patterns without their own.</summary>
    public IReadOnlyList<double> Rates { get; set; } = [1, 10];

    /// <summary>Contenders to run (null: every one a pair has).</summary>
    public IReadOnlyList<string>? Contenders { get; init; }

    /// <summary>Where lvol stores and dir/file volumes are made (default: the temporary directory).</summary>
    public string? WorkDirectory { get; init; }

    /// <summary>The matrix file's SHA-256 (hex), set by <see cref="LoadAsync"/>.</summary>
    [JsonIgnore]
    public string Sha256 { get; init; } = "";

    /// <summary>The file the matrix came from.</summary>
    [JsonIgnore]
    public string Path { get; init; } = "";

    /// <summary>Reads and checks a matrix file.</summary>
    /// <exception cref="MatrixException">The file is not a valid matrix.</exception>
    public static async Task<Matrix> LoadAsync(string path, CancellationToken cancellationToken)
    {
        var bytes = await File.ReadAllBytesAsync(path, cancellationToken).ConfigureAwait(false);
        Matrix? matrix;
        try
        {
            matrix = JsonSerializer.Deserialize(bytes, BenchJsonContext.Default.Matrix);
        }
        catch (JsonException e)
        {
            throw new MatrixException($"{path}: not a matrix: {e.Message}", e);
        }
        if (matrix is null)
        {
            throw new MatrixException($"{path}: empty.");
        }
        matrix = matrix with { Sha256 = Convert.ToHexStringLower(SHA256.HashData(bytes)), Path = System.IO.Path.GetFullPath(path) };
        matrix.Validate();
        return matrix;
    }

    /// <summary>The cases, in the order they run: pair, size, pattern, rate.</summary>
    public IEnumerable<CaseKey> Cases() =>
        from pair in Pairs
        from size in Sizes
        from pattern in Patterns
        from rate in pattern.Rates ?? Rates
        select new CaseKey(pair, ParseSize(size), pattern.Name, rate);

    /// <summary>The largest append rate of the matrix (block volumes are made that much larger).</summary>
    public double MaxAppendPercent =>
        Patterns.Where(p => p.Name == ChangePatterns.Append).SelectMany(p => p.Rates ?? Rates).DefaultIfEmpty(0).Max();

    private void Validate()
    {
        if (Rounds < 1)
        {
            throw new MatrixException("rounds must be at least 1.");
        }
        if (Pairs.Count == 0 || Patterns.Count == 0 || Sizes.Count == 0)
        {
            throw new MatrixException("pairs, sizes and patterns must each name at least one.");
        }
        foreach (var pair in Pairs.Where(p => !BackendPairs.Names.Contains(p)))
        {
            throw new MatrixException($"unknown pair '{pair}': expected one of {string.Join(", ", BackendPairs.Names)}.");
        }
        foreach (var pattern in Patterns.Where(p => !ChangePatterns.Names.Contains(p.Name)))
        {
            throw new MatrixException($"unknown pattern '{pattern.Name}': expected one of {string.Join(", ", ChangePatterns.Names)}.");
        }
        if (Patterns.SelectMany(p => p.Rates ?? Rates).Any(r => r is <= 0 or > 100))
        {
            throw new MatrixException("rates are percentages above 0 and at most 100.");
        }
        foreach (var size in Sizes)
        {
            _ = ParseSize(size);
        }
        foreach (var contender in (Contenders ?? []).Where(c => !Contender.Names.Contains(c)))
        {
            throw new MatrixException($"unknown contender '{contender}': expected one of {string.Join(", ", Contender.Names)}.");
        }
    }

    private static long ParseSize(string text) =>
        ByteSize.TryParse(text, out var bytes) && bytes >= (4 << 20) && bytes % (1 << 20) == 0
            ? bytes
            : throw new MatrixException($"size '{text}': expected a whole number of MiB, at least 4M, such as 64M or 1G.");
}

/// <summary>A change pattern of the matrix: a name, and optionally its own rates.</summary>
[JsonConverter(typeof(PatternEntryConverter))]
internal sealed record PatternEntry(string Name, IReadOnlyList<double>? Rates = null);

/// <summary>One case: a pair, a data size, a change pattern and a change rate.</summary>
internal sealed record CaseKey(string Pair, long Size, string Pattern, double Rate)
{
    /// <summary>The case's name in the report (<c>zfs-zfs/64M/scattered-4k/1%</c>).</summary>
    public override string ToString() => string.Create(CultureInfo.InvariantCulture, $"{Pair}/{Size >> 20}M/{Pattern}/{Rate:0.###}%");
}

/// <summary>A matrix file that cannot be used.</summary>
internal sealed class MatrixException : Exception
{
    public MatrixException()
    {
    }

    public MatrixException(string message)
        : base(message)
    {
    }

    public MatrixException(string message, Exception? innerException)
        : base(message, innerException)
    {
    }
}

/// <summary>A pattern is a string (<c>"append"</c>) or an object (<c>{"name": "rewrite", "rates": [1]}</c>).</summary>
internal sealed class PatternEntryConverter : JsonConverter<PatternEntry>
{
    public override PatternEntry Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options)
    {
        if (reader.TokenType == JsonTokenType.String)
        {
            return new PatternEntry(reader.GetString()!);
        }
        string? name = null;
        List<double>? rates = null;
        if (reader.TokenType != JsonTokenType.StartObject)
        {
            throw new JsonException("A pattern is a name or an object with \"name\" and \"rates\".");
        }
        while (reader.Read() && reader.TokenType != JsonTokenType.EndObject)
        {
            var property = reader.GetString();
            reader.Read();
            switch (property)
            {
                case "name":
                    name = reader.GetString();
                    break;
                case "rates":
                    rates = [];
                    while (reader.Read() && reader.TokenType != JsonTokenType.EndArray)
                    {
                        rates.Add(reader.GetDouble());
                    }
                    break;
                default:
                    throw new JsonException($"Unknown pattern property '{property}'.");
            }
        }
        return new PatternEntry(name ?? throw new JsonException("A pattern needs a \"name\"."), rates);
    }

    public override void Write(Utf8JsonWriter writer, PatternEntry value, JsonSerializerOptions options)
    {
        writer.WriteStartObject();
        writer.WriteString("name", value.Name);
        if (value.Rates is not null)
        {
            writer.WriteStartArray("rates");
            foreach (var rate in value.Rates)
            {
                writer.WriteNumberValue(rate);
            }
            writer.WriteEndArray();
        }
        writer.WriteEndObject();
    }
}
