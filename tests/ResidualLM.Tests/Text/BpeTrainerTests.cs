// BPE training: determinism, compression, round trips, and agreement of incremental counting with a naive recount.
using System.Text;
using ResidualLM.Text;
using Xunit;

namespace ResidualLM.Tests.Text;

public class BpeTrainerTests
{
    static readonly string corpus = TextTestData.EnglishLike(100_000, seed: 5);

    [Fact]
    public void Train_SameText_GivesSameMerges()
    {
        var first = BpeTrainer.Train(corpus, 200);
        var second = BpeTrainer.Train(corpus, 200);
        Assert.Equal(200, first.Merges.Count);
        Assert.Equal(first.Merges, second.Merges);
        Assert.Equal(256 + 200 + 1, first.VocabSize);
    }

    [Fact]
    public void Train_Merges_CompressText()
    {
        var tokenizer = BpeTrainer.Train(corpus, 200);
        string heldOut = TextTestData.EnglishLike(20_000, seed: 6);
        int[] ids = tokenizer.Encode(heldOut);
        int bytes = Encoding.UTF8.GetByteCount(heldOut);
        Assert.True(ids.Length < bytes / 2, $"{ids.Length} tokens for {bytes} bytes");
        Assert.Equal(heldOut, tokenizer.Decode(ids));
    }

    /// <summary>Words of 1-12 letters from a two- or three-letter alphabet: pairs overlap often ("aaa", "abab"), so a merge
    /// lowers the counts of the pairs beside it, which must then be merged in their new order.</summary>
    static string SmallAlphabet(int words, string letters, int seed)
    {
        var random = new Random(seed);
        var builder = new StringBuilder();
        for (int w = 0; w < words; w++)
        {
            if (w > 0) builder.Append(' ');
            int length = 1 + random.Next(12);
            for (int i = 0; i < length; i++) builder.Append(letters[random.Next(letters.Length)]);
        }
        return builder.ToString();
    }

    public static TheoryData<string, int> NaiveRecountCases => new()
    {
        { TextTestData.EnglishLike(3_000, seed: 9), 30 },
        { SmallAlphabet(400, "ab", seed: 1), 60 },
        { SmallAlphabet(400, "abc", seed: 2), 60 },
        { SmallAlphabet(300, "aab", seed: 3), 60 },
    };

    [Theory]
    [MemberData(nameof(NaiveRecountCases))]
    public void Train_FirstMerges_MatchNaiveRecount(string text, int mergeCount)
    {
        // A slow but obviously correct trainer: recount every pair over the whole segmented corpus before each merge.
        var trained = BpeTrainer.Train(text, mergeCount);
        var words = Gpt2PreTokenizer.Split(text)
            .Select(piece => Encoding.UTF8.GetBytes(text.Substring(piece.Start, piece.Length)).Select(b => (int)b).ToList()).ToList();
        int m = 0;
        for (; m < mergeCount; m++)
        {
            var counts = new Dictionary<(int, int), int>();
            foreach (var word in words)
                for (int i = 0; i + 1 < word.Count; i++) counts[(word[i], word[i + 1])] = counts.GetValueOrDefault((word[i], word[i + 1])) + 1;
            if (counts.Count == 0 || counts.Values.Max() < 2) break;   // the trainer's minimum pair count
            var best = counts.OrderByDescending(kv => kv.Value).ThenBy(kv => kv.Key.Item1).ThenBy(kv => kv.Key.Item2).First().Key;
            Assert.True(m < trained.Merges.Count, $"the trainer stopped after {trained.Merges.Count} merges; merge {m} is {best}");
            Assert.Equal(best, trained.Merges[m]);
            foreach (var word in words)
                for (int i = 0; i + 1 < word.Count; i++)
                    if (word[i] == best.Item1 && word[i + 1] == best.Item2) { word[i] = 256 + m; word.RemoveAt(i + 1); }
        }
        Assert.Equal(m, trained.Merges.Count);
    }

    [Fact]
    public void Encode_AnyText_RoundTrips()
    {
        var tokenizer = BpeTrainer.Train(corpus, 100);
        foreach (string text in TextTestData.RandomStrings(500, seed: 10))
            Assert.Equal(text, tokenizer.Decode(tokenizer.Encode(text)));
    }

    [Fact]
    public void Encode_EndOfText_IsLastIdOnlyWhenAllowed()
    {
        var tokenizer = BpeTrainer.Train(corpus, 50);
        Assert.Equal(tokenizer.VocabSize - 1, tokenizer.EndOfTextId);
        Assert.DoesNotContain(tokenizer.EndOfTextId!.Value, tokenizer.Encode("a<|endoftext|>b"));
        Assert.Single(tokenizer.Encode("a<|endoftext|>b", allowSpecialTokens: true), id => id == tokenizer.EndOfTextId);
    }

    [Fact]
    public void Train_TooFewRepeats_StopsEarly()
    {
        // "abcd" has three pairs seen once each: nothing is worth merging with the default minimum count of 2.
        Assert.Empty(BpeTrainer.Train("abcd", 10).Merges);
        Assert.Equal(3, BpeTrainer.Train("abcd", 10, minimumPairCount: 1).Merges.Count);
    }
}
