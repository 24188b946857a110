// Rewrites the bad-input table of docs/reliability.md: runs every case of BadInputCatalogTests on the real rlm and
// renders one row per case with the message rlm printed. Run it after changing a case or a message:
//   dotnet run -c Release --project tools/ReliabilityTable
// BadInputCatalogTests then checks every row against rlm's output, and that the table lists exactly the cases.
using ResidualLM.Tests.Cli;

string path = ReliabilityTable.Write();
Console.WriteLine($"wrote {BadInputCatalogTests.Cases.Length} rows to {path}");
