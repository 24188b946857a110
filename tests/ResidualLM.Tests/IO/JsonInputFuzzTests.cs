// Seeded fuzzing of JsonInput: a GPT-2 config is mutated byte- and token-wise, parsed and read with every typed
// getter. The only exception allowed is InvalidInputException. RLM_FUZZ_CASES raises the case count.
using System.Diagnostics;
using System.Text;
using ResidualLM.IO;
using Xunit;
using Xunit.Abstractions;

namespace ResidualLM.Tests.IO;

public class JsonInputFuzzTests(ITestOutputHelper output)
{
    const string Seed = """
        {"activation_function": "gelu_new", "n_embd": 768, "n_layer": 12, "n_head": 12, "n_positions": 1024,
         "vocab_size": 50257, "layer_norm_epsilon": 1e-05, "n_inner": null, "scale_attn_weights": true,
         "shape": [2, 3, 4], "model": {"name": "tiny", "seed": 42}}
        """;

    static readonly string[] Tokens =
    [
        "{", "}", "[", "]", ",", ":", "\"", "null", "true", "1e999", "-1", "0.5", "99999999999999999999", "\\u0000",
        "\\ud800", "\"n_embd\": 1", "// x", "\u00e9", "\t", "\n", "1e-400", "NaN", "Infinity", "\"\"", "[[[[", "}}}}",
    ];

    [Fact]
    public void ParseAndRead_MutatedConfigs_OnlyInvalidInputException()
    {
        int cases = SafeTensorsFuzzTests.CaseCount(10_000);
        byte[] seed = Encoding.UTF8.GetBytes(Seed);
        var random = new Random(SafeTensorsFuzzTests.Seed(7));
        int parsed = 0;
        var watch = Stopwatch.StartNew();
        for (int index = 0; index < cases; index++)
        {
            byte[] bytes = seed;
            for (int step = 1 + random.Next(3); step > 0; step--) bytes = Mutate(bytes, random);
            try
            {
                if (ParseAndRead(bytes)) parsed++;
            }
            catch (Exception exception) when (exception is not InvalidInputException and not Xunit.Sdk.XunitException)
            {
                Assert.Fail($"case {index}: {exception.GetType().Name}: {exception.Message}\ninput: {Convert.ToHexString(bytes)}");
            }
        }
        double seconds = watch.Elapsed.TotalSeconds;
        output.WriteLine($"{cases} cases in {seconds:F2} s ({cases / seconds:F0} cases/s), {parsed} parsed");
        Assert.InRange(parsed, 1, cases - 1);
    }

    /// <summary>Parses and calls every getter, each in its own try so one bad field does not hide the others.</summary>
    static bool ParseAndRead(byte[] bytes)
    {
        JsonInputObject config;
        try
        {
            config = JsonInput.ParseBytes(bytes, "fuzz.json");
        }
        catch (InvalidInputException exception)
        {
            Assert.Equal("fuzz.json", exception.FilePath);
            return false;
        }
        Action[] reads =
        [
            () => JsonInput.GetInt(config, "n_embd", min: 1, max: 1 << 16),
            () => JsonInput.GetOptionalInt(config, "n_inner", 3072, min: 1),
            () => JsonInput.GetLong(config, "vocab_size"),
            () => JsonInput.GetDouble(config, "layer_norm_epsilon", min: 0, max: 1),
            () => JsonInput.GetOptionalDouble(config, "n_layer", 1.0),
            () => JsonInput.GetString(config, "activation_function", ["gelu_new", "gelu", "relu"]),
            () => JsonInput.GetOptionalString(config, "model", null),
            () => JsonInput.GetBool(config, "scale_attn_weights"),
            () => JsonInput.GetIntArray(config, "shape", min: 0, length: 3),
            () => JsonInput.GetInt(JsonInput.GetObject(config, "model"), "seed"),
            () => JsonInput.RejectUnknown(config, "activation_function", "n_embd", "n_layer", "n_head", "n_positions", "vocab_size",
                "layer_norm_epsilon", "n_inner", "scale_attn_weights", "shape", "model"),
            () => _ = config.FieldNames.Count() + (config.Has("n_head") ? 1 : 0),
        ];
        foreach (Action read in reads)
        {
            try
            {
                read();
            }
            catch (InvalidInputException exception)
            {
                Assert.Equal("fuzz.json", exception.FilePath);
                Assert.NotNull(exception.Field);
            }
        }
        return true;
    }

    static byte[] Mutate(byte[] input, Random random)
    {
        byte[] bytes = (byte[])input.Clone();
        int position = random.Next(bytes.Length + 1);
        switch (random.Next(6))
        {
            case 0:
                if (bytes.Length > 0) bytes[random.Next(bytes.Length)] ^= (byte)(1 << random.Next(8));
                return bytes;
            case 1:
                if (bytes.Length > 0) bytes[random.Next(bytes.Length)] = (byte)random.Next(256);
                return bytes;
            case 2:
                return bytes[..position];
            case 3: // insert a token
                return [.. bytes.AsSpan(0, position), .. Encoding.UTF8.GetBytes(Tokens[random.Next(Tokens.Length)]), .. bytes.AsSpan(position)];
            case 4: // delete a span
                return [.. bytes.AsSpan(0, position), .. bytes.AsSpan(Math.Min(bytes.Length, position + 1 + random.Next(12)))];
            default: // repeat a span (duplicates keys, brackets, values)
            {
                int length = Math.Min(bytes.Length - position, 1 + random.Next(24));
                return [.. bytes.AsSpan(0, position + length), .. bytes.AsSpan(position, length), .. bytes.AsSpan(position + length)];
            }
        }
    }
}
