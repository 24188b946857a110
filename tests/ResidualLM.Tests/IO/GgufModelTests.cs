// Models in GGUF files: the Python-written fixtures (llama.cpp's gpt2 layout) load with their tokenizer and keep their
// quantised blocks as stored; exports round trip exactly (f32 bit for bit, f16 rounded once, q8_0/q4_0 blocks as
// quantised in memory); quantised model folders (config.json + model.gguf) reload to the same logits for GPT and Llama;
// and files llama.cpp would read but ResidualLM cannot are one-line errors naming the tensor or key.
using ResidualLM.Autograd;
using ResidualLM.IO;
using ResidualLM.Kernels;
using ResidualLM.Models;
using ResidualLM.Tensors;
using ResidualLM.Text;
using Xunit;

namespace ResidualLM.Tests.IO;

public class GgufModelTests
{
    /// <summary>A byte-level BPE with the 256 byte tokens, three merges and &lt;|endoftext|&gt;.</summary>
    internal static Gpt2Tokenizer ByteTokenizer()
    {
        var tokens = Enumerable.Range(0, 256).Select(b => ByteLevelAlphabet.ToChar((byte)b).ToString()).ToList();
        tokens.AddRange(["Ġt", "he", "Ġthe", Gpt2Tokenizer.EndOfTextToken]);
        return Gpt2Tokenizer.FromTokens([.. tokens], ["Ġ t", "h e", "Ġt he"], "test", "tokens", "merges");
    }

    static Gpt SmallGpt(bool tied, ulong seed = 5) =>
        new(new GptConfig { VocabSize = 260, ContextLength = 32, Width = 64, HeadCount = 2, LayerCount = 2, Dropout = 0f, QkvBias = true, TieWeights = tied }, seed);

    static float[] Logits(LanguageModel model, int[] ids)
    {
        model.Eval();
        using var _ = Graph.NoGrad();
        return model.Forward(ids, 1, ids.Length).Data.AsSpan(0, ids.Length * model.VocabSize).ToArray();
    }

    static Tensor Parameter(LanguageModel model, string name) => model.NamedParameters().Single(p => p.Name == name).Tensor;

    static readonly int[] Ids = [3, 259, 17, 256, 100, 42, 7];

    static string TempFile(string name) => Path.Combine(Directory.CreateTempSubdirectory("rlm-gguf-").FullName, name);

    [Theory]
    [InlineData("f32", "f32")]
    [InlineData("f16", "f32")]
    [InlineData("q8_0", "q8_0")]
    [InlineData("q4_0", "q4_0")]
    public void PythonFixtures_LoadWithTheirTokenizer_AndKeepTheirBlocks(string file, string weights)
    {
        string path = GgufFixtureTests.FixturePath($"tiny-gpt2-{file}.gguf");
        var loaded = GgufModels.Load(path);
        var gpt = Assert.IsType<Gpt>(loaded.Model);
        // Hyper-parameters written by tools/reference/gguf_fixture.py (expected.json): vocab 280, context 32, width 32, 2 heads, 2 layers, ff 64.
        Assert.Equal((280, 32, 32, 2, 2, 64), (gpt.VocabSize, gpt.ContextLength, gpt.Config.Width, gpt.Config.HeadCount, gpt.Config.LayerCount, gpt.Config.HiddenWidth));
        Assert.Equal(weights, gpt.WeightFormat);
        Assert.NotNull(loaded.Tokenizer);
        Assert.Equal(280, loaded.Tokenizer!.VocabSize);
        Assert.Equal("hello there", loaded.Tokenizer.Decode(loaded.Tokenizer.Encode("hello there")));
        Assert.All(Logits(gpt, [1, 2, 3]), value => Assert.True(float.IsFinite(value)));
        if (weights == "f32") return;
        using var gguf = GgufFile.Open(path);
        Assert.Equal(gguf.ReadBytes("blk.1.ffn_down.weight"), gpt.Linears().ElementAt(7).Quantized!.ToGgml());   // qkv, proj, fc, proj per block
        Assert.Equal(gguf.ReadBytes("token_embd.weight"), gpt.TokenEmbedding.Quantized!.ToGgml());
    }

    [Theory]
    [InlineData("f32", GgufWeights.F32)]
    [InlineData("f16", GgufWeights.F16)]
    [InlineData("q8_0", GgufWeights.Q8_0)]
    [InlineData("q4_0", GgufWeights.Q4_0)]
    public void PythonFixtures_ReexportedInTheirFormat_KeepEveryTensorByte(string file, GgufWeights weights)
    {
        // Read and written again by ResidualLM, each tensor of the Python-written file comes back byte for byte (f16
        // widened to float32 and rounded back is exact; quantised blocks are written as they were read).
        string path = GgufFixtureTests.FixturePath($"tiny-gpt2-{file}.gguf");
        var loaded = GgufModels.Load(path);
        string copy = TempFile("copy.gguf");
        GgufModels.SaveGpt2(copy, (Gpt)loaded.Model, loaded.Tokenizer!, weights);
        using var original = GgufFile.Open(path);
        using var written = GgufFile.Open(copy);
        Assert.Equal(original.Tensors.Select(t => t.Name).Order(), written.Tensors.Select(t => t.Name).Order());
        foreach (var tensor in original.Tensors)
        {
            Assert.Equal(tensor.Type, written.Tensor(tensor.Name).Type);
            Assert.Equal(tensor.Shape, written.Tensor(tensor.Name).Shape);
            Assert.True(original.ReadBytes(tensor.Name).AsSpan().SequenceEqual(written.ReadBytes(tensor.Name)), tensor.Name);
        }
        Assert.Equal(original.GetStringArray("tokenizer.ggml.tokens"), written.GetStringArray("tokenizer.ggml.tokens"));
        Assert.Equal(original.GetStringArray("tokenizer.ggml.merges"), written.GetStringArray("tokenizer.ggml.merges"));
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void F32Export_RoundTripsBitForBit(bool tied)
    {
        var model = SmallGpt(tied);
        var tokenizer = ByteTokenizer();
        string path = TempFile("model.gguf");
        GgufModels.SaveGpt2(path, model, tokenizer, GgufWeights.F32);
        var loaded = GgufModels.Load(path);
        var before = model.NamedParameters();
        var after = loaded.Model.NamedParameters();
        Assert.Equal(before.Select(p => p.Name), after.Select(p => p.Name));
        for (int i = 0; i < before.Count; i++)
            Assert.True(before[i].Tensor.Data.AsSpan(0, before[i].Tensor.Size).SequenceEqual(after[i].Tensor.Data.AsSpan(0, after[i].Tensor.Size)), before[i].Name);
        Assert.Equal(Logits(model, Ids), Logits(loaded.Model, Ids));
        Assert.Equal(tokenizer.Encode(" the hello"), loaded.Tokenizer!.Encode(" the hello"));
        Assert.Equal(tokenizer.EndOfTextId, loaded.Tokenizer.EndOfTextId);
    }

    [Fact]
    public void F16Export_RoundsEachWeightOnce()
    {
        var model = SmallGpt(tied: true);
        string path = TempFile("model.gguf");
        GgufModels.SaveGpt2(path, model, ByteTokenizer(), GgufWeights.F16);
        var loaded = GgufModels.Load(path).Model;
        var fc = Parameter(model, "blocks.0.ffn.fc.weight");
        var back = Parameter(loaded, "blocks.0.ffn.fc.weight");
        for (int i = 0; i < fc.Size; i++) Assert.Equal((float)(Half)fc.Data[i], back.Data[i]);
        var norm = Parameter(model, "blocks.0.norm1.weight");
        norm.Data[3] = 1.0001f;                                                       // not a float16 value
        GgufModels.SaveGpt2(path, model, ByteTokenizer(), GgufWeights.F16);
        Assert.Equal(1.0001f, Parameter(GgufModels.Load(path).Model, "blocks.0.norm1.weight").Data[3]);   // norms stay float32
    }

    [Theory]
    [InlineData(BlockFormat.Q8_0, true)]
    [InlineData(BlockFormat.Q4_0, false)]
    public void QuantisedExport_KeepsTheBlocksQuantisedInMemory(BlockFormat format, bool quantiseFirst)
    {
        // Either the model is quantised first and its blocks are written as they are, or the export quantises: both
        // must give the model that Quantize gives in memory, bit for bit.
        var model = SmallGpt(tied: false);
        var expected = SmallGpt(tied: false);
        expected.Quantize(format);
        if (quantiseFirst) model.Quantize(format);
        string path = TempFile("model.gguf");
        GgufModels.SaveGpt2(path, model, ByteTokenizer(), format == BlockFormat.Q8_0 ? GgufWeights.Q8_0 : GgufWeights.Q4_0);
        var loaded = GgufModels.Load(path).Model;
        Assert.Equal(BlockQuant.Name(format), loaded.WeightFormat);
        Assert.Equal(Logits(expected, Ids), Logits(loaded, Ids));
    }

    public static TheoryData<string> FolderModels() => ["gpt-postnorm", "llama", "llama-tied"];

    [Theory]
    [MemberData(nameof(FolderModels))]
    public void QuantisedFolders_ReloadToTheSameLogits(string kind)
    {
        LanguageModel Make() => kind switch
        {
            "gpt-postnorm" => new Gpt(new GptConfig { VocabSize = 300, ContextLength = 16, Width = 64, HeadCount = 4, LayerCount = 2, Dropout = 0f, Residual = ResidualMode.PostNorm }, 2),
            "llama" => new Llama(LlamaConfig.Preset("test") with { VocabSize = 200, Width = 64, HeadCount = 4, FeedForwardWidth = 96 }, 3),
            _ => new Llama(LlamaConfig.Preset("test") with { VocabSize = 200, Width = 64, HeadCount = 4, FeedForwardWidth = 96, TieWeights = true }, 4),
        };
        foreach (var format in new[] { BlockFormat.Q8_0, BlockFormat.Q4_0 })
        {
            var model = Make();
            model.Quantize(format);
            string folder = Directory.CreateTempSubdirectory("rlm-quantized-").FullName;
            ModelFiles.SaveQuantized(folder, model);
            Assert.False(File.Exists(Path.Combine(folder, ModelFiles.WeightsFileName)));
            var loaded = ModelFiles.Load(folder);
            Assert.Equal(BlockQuant.Name(format), loaded.WeightFormat);
            int[] ids = [1, 7, 3, 9, 2];
            Assert.Equal(Logits(model, ids), Logits(loaded, ids));
        }
    }

    [Fact]
    public void ModelsWithoutAGpt2Equivalent_AreRefusedByName()
    {
        var postNorm = new Gpt(new GptConfig { VocabSize = 260, ContextLength = 8, Width = 64, HeadCount = 2, LayerCount = 1, Residual = ResidualMode.PostNorm }, 1);
        var error = Assert.Throws<InvalidInputException>(() => GgufModels.SaveGpt2(TempFile("a.gguf"), postNorm, ByteTokenizer(), GgufWeights.F32));
        Assert.Equal("residual", error.Field);
        var erf = new Gpt(new GptConfig { VocabSize = 260, ContextLength = 8, Width = 64, HeadCount = 2, LayerCount = 1, ExactGelu = true }, 1);
        Assert.Equal("gelu", Assert.Throws<InvalidInputException>(() => GgufModels.SaveGpt2(TempFile("b.gguf"), erf, ByteTokenizer(), GgufWeights.F32)).Field);
        var chars = CharTokenizer.FromText("abc");
        Assert.Equal("tokenizer", Assert.Throws<InvalidInputException>(() => GgufModels.SaveGpt2(TempFile("c.gguf"), SmallGpt(true), chars, GgufWeights.F32)).Field);
    }

    /// <summary>A copy of the f32 fixture with one change made through the writer.</summary>
    static string Altered(Action<GgufFile, GgufWriter> build, Func<string, bool>? keepTensor = null, Func<string, bool>? keepKey = null)
    {
        using var source = GgufFile.Open(GgufFixtureTests.FixturePath("tiny-gpt2-f32.gguf"));
        var writer = new GgufWriter();
        foreach (var (key, value) in source.Metadata)
            if (key != "general.alignment" && (keepKey?.Invoke(key) ?? true)) writer.Add(key, value);
        build(source, writer);
        foreach (var tensor in source.Tensors)
            if (keepTensor?.Invoke(tensor.Name) ?? true) writer.AddTensor(tensor.Name, tensor.Type, tensor.Shape.ToArray(), source.ReadBytes(tensor.Name));
        string path = TempFile("altered.gguf");
        writer.Write(path);
        return path;
    }

    [Fact]
    public void UnsupportedFiles_AreOneLineErrorsNamingTheKeyOrTensor()
    {
        InvalidInputException Fails(string path) => Assert.Throws<InvalidInputException>(() => GgufModels.Load(path));

        var llama = Fails(Altered((_, w) => w.Add("general.architecture", GgufValue.Of("llama")), keepKey: k => k != "general.architecture"));
        Assert.Equal("general.architecture", llama.Field);
        Assert.Contains("llama", llama.Message);

        var missing = Fails(Altered((_, _) => { }, keepTensor: name => name != "blk.1.attn_output.bias"));
        Assert.Equal("blk.1.attn_output.bias", missing.Field);

        var extra = Fails(Altered((_, w) => w.AddTensor("blk.9.attn_qkv.weight", GgufType.F32, [32, 96], new byte[32 * 96 * 4])));
        Assert.Equal("blk.9.attn_qkv.weight", extra.Field);

        var q5 = Fails(Altered((_, w) => w.AddTensor("output.weight", GgufType.Q5_0, [32, 280], new byte[280 * 22])));
        Assert.Contains("q5_0", q5.Message);
        Assert.Equal("output.weight", q5.Field);

        var heads = Fails(Altered((_, w) => w.Add("gpt2.attention.head_count", GgufValue.Of(3u)), keepKey: k => k != "gpt2.attention.head_count"));
        Assert.Equal("gpt2.attention.head_count", heads.Field);

        var huge = Fails(Altered((_, w) => w.Add("gpt2.block_count", GgufValue.Of(100000u)), keepKey: k => k != "gpt2.block_count"));
        Assert.Equal("gpt2.block_count", huge.Field);

        var nan = new byte[32 * 4]; BitConverter.TryWriteBytes(nan.AsSpan(8), float.NaN);
        var notFinite = Fails(Altered((_, w) => w.AddTensor("output_norm.weight", GgufType.F32, [32], nan), keepTensor: n => n != "output_norm.weight"));
        Assert.Equal("output_norm.weight", notFinite.Field);
    }
}
