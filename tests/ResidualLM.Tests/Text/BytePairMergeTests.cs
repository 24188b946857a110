// The heap merge (used for long pieces) must give exactly what encoder.py's scanning loop gives.
using ResidualLM.Text;
using Xunit;

namespace ResidualLM.Tests.Text;

public class BytePairMergeTests
{
    static IEnumerable<byte[]> Inputs(int seed)
    {
        var random = new Random(seed);
        foreach (string text in TextTestData.RandomStrings(300, seed))
            yield return System.Text.Encoding.UTF8.GetBytes(text);
        // Long runs of one class are single pieces: letters, digits, punctuation, and repeats that merge with themselves.
        string[] alphabets = ["abcdefghijklmnopqrstuvwxyz", "0123456789", "!?.,;:-'\"()", "aab", "e"];
        for (int i = 0; i < 60; i++)
        {
            string alphabet = alphabets[i % alphabets.Length];
            int length = random.Next(1, 400);
            yield return System.Text.Encoding.UTF8.GetBytes(new string(Enumerable.Range(0, length).Select(_ => alphabet[random.Next(alphabet.Length)]).ToArray()));
        }
    }

    static void AssertAlgorithmsAgree(BytePairEncoder engine, int seed)
    {
        foreach (byte[] bytes in Inputs(seed))
            Assert.Equal(engine.MergeByScanning(engine.ByteSymbols(bytes)), engine.MergeWithHeap(engine.ByteSymbols(bytes)));
    }

    [Fact]
    public void MergeWithHeap_Gpt2Merges_MatchesScanning() => AssertAlgorithmsAgree(TextTestData.Gpt2.Engine, seed: 21);

    [Fact]
    public void MergeWithHeap_TrainedMerges_MatchesScanning() =>
        AssertAlgorithmsAgree(BpeTrainer.Train(TextTestData.EnglishLike(30_000, seed: 22) + "aaaaaaaaaaaaaaaa eeeeeeeeeeeee", 150).Engine, seed: 23);
}
