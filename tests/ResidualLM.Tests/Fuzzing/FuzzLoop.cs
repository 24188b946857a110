// The loop shared by the parser fuzzers: seeded cases, each bounded in time and allocation, where the only exception
// allowed is InvalidInputException with a one-line message. A failure prints the case's input so it can be replayed.
using System.Diagnostics;
using Xunit;
using Xunit.Abstractions;

namespace ResidualLM.Tests.Fuzzing;

public static class FuzzLoop
{
    /// <summary>
    /// Runs <paramref name="cases"/> cases: <paramref name="make"/> builds a case's input files from the seeded random
    /// source, <paramref name="check"/> parses and uses them (returning normally when they were accepted). Asserts no
    /// case threw anything but <see cref="InvalidInputException"/>, none took over two seconds or allocated more than
    /// <paramref name="allocationLimit"/> bytes plus 64 per input byte, and that some cases were accepted and some not.
    /// </summary>
    public static void Run(ITestOutputHelper output, string name, int cases, int seed, Func<Random, byte[][]> make,
        Action<byte[][]> check, long allocationLimit = 4 << 20, bool expectRejections = true)
    {
        var random = new Random(seed);
        int accepted = 0;
        long slowestTicks = 0, mostAllocated = 0;
        var reasons = new Dictionary<string, int>();
        var watch = Stopwatch.StartNew();
        for (int index = 0; index < cases; index++)
        {
            byte[][] inputs = make(random);
            long inputBytes = inputs.Sum(input => (long)input.Length);
            long started = watch.ElapsedTicks;
            long allocatedBefore = GC.GetAllocatedBytesForCurrentThread();
            try
            {
                check(inputs);
                accepted++;
            }
            catch (InvalidInputException exception)
            {
                Assert.False(exception.Message.Contains('\n'), $"{name} case {index}: message has a line break: {exception.Message}");
                Assert.True(exception.Message.Length < 1000, $"{name} case {index}: message of {exception.Message.Length} characters");
                string reason = exception.Message[(exception.FilePath?.Length ?? 0)..];
                reason = reason[..Math.Min(reason.Length, 40)];
                reasons[reason] = reasons.GetValueOrDefault(reason) + 1;
            }
            catch (Exception exception) when (exception is not Xunit.Sdk.XunitException)
            {
                Assert.Fail($"{name} case {index} (seed {seed}): {exception.GetType().Name}: {exception.Message}\n{exception.StackTrace}\n" +
                    string.Join("\n", inputs.Select(input => "input: " + Convert.ToHexString(input))));
            }
            long allocated = GC.GetAllocatedBytesForCurrentThread() - allocatedBefore;
            mostAllocated = Math.Max(mostAllocated, allocated);
            Assert.True(allocated < allocationLimit + 64 * inputBytes, $"{name} case {index}: {allocated} bytes allocated for {inputBytes} input bytes");
            slowestTicks = Math.Max(slowestTicks, watch.ElapsedTicks - started);
        }
        double seconds = watch.Elapsed.TotalSeconds;
        output.WriteLine($"{name}: {cases} cases in {seconds:F2} s ({cases / seconds:F0} cases/s), {accepted} accepted, " +
            $"slowest {slowestTicks * 1000.0 / Stopwatch.Frequency:F1} ms, most allocated {mostAllocated / 1024} KB");
        foreach (var (reason, count) in reasons.OrderByDescending(pair => pair.Value).Take(6)) output.WriteLine($"  {count,6} rejected: {reason}");
        Assert.True(slowestTicks < 2 * Stopwatch.Frequency, $"{name}: a single case took over 2 seconds");
        if (cases >= 100) Assert.InRange(accepted, 1, expectRejections ? cases - 1 : cases);
    }
}
