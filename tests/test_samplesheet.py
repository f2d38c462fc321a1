"""The samplesheet is checked the same way everywhere: each bad sheet is refused with its row named."""
import pytest

from scact.errors import ScactInputError
from scact.io.samplesheet import read_samplesheet


@pytest.fixture
def inputs(tmp_path):
    (tmp_path / "arc").mkdir()
    (tmp_path / "arc" / "filtered_feature_bc_matrix.h5").write_bytes(b"")
    (tmp_path / "rna.h5ad").write_bytes(b"")
    (tmp_path / "frags.tsv.gz").write_bytes(b"")
    return tmp_path


def write_sheet(directory, text):
    path = directory / "samplesheet.csv"
    path.write_text(text)
    return path


def test_reads_every_supported_row_kind(inputs):
    sheet = write_sheet(inputs, "sample,modality,input,batch\n"
                                "s1,multiome,arc,b1\n"
                                "s2,rna,rna.h5ad,\n"
                                "s2,atac,frags.tsv.gz,\n")
    rows = read_samplesheet(sheet, base_dir=inputs)
    assert [(r.sample, r.modality, r.input_format, r.batch) for r in rows] == [
        ("s1", "multiome", "cellranger_arc", "b1"), ("s2", "rna", "h5ad", "s2"), ("s2", "atac", "fragments", "s2")]
    assert rows[0].modalities == ("rna", "atac")


def test_a_utf8_bom_before_the_header_is_accepted(inputs):
    sheet = inputs / "samplesheet.csv"
    sheet.write_bytes("\ufeffsample,modality,input\ns1,rna,rna.h5ad\n".encode("utf-8"))  # Excel's "CSV UTF-8"
    assert [row.sample for row in read_samplesheet(sheet, base_dir=inputs)] == ["s1"]


@pytest.mark.parametrize("text, message", [
    ("", "empty"),
    ("sample,modality,input\n", "no rows"),
    ("sample,modality,input,colour\ns1,rna,rna.h5ad,red\n", "unknown column(s) colour"),
    ("sample,modality,input\ns1,rna,missing.h5ad\n", "line 2: input"),
    ("sample,modality,input\ns 1,rna,rna.h5ad\n", "line 2, column sample"),
    ("sample,modality,input\ns1,protein,rna.h5ad\n", "line 2, column modality"),
    ("sample,modality,input\ns1,rna,rna.h5ad\ns1,rna,rna.h5ad\n", "line 3: duplicate sample id 's1'"),
    ("sample,modality,input\ns1,multiome,arc\ns1,atac,frags.tsv.gz\n", "line 3: duplicate sample id 's1'"),
    ("sample,modality,input\ns1,rna,frags.tsv.gz\n", "cannot give modality 'rna'"),
    ("sample,modality,input\n-h,rna,rna.h5ad\n", "line 2, column sample: sample must start with a letter or digit"),
    ("sample,modality,input\n..,rna,rna.h5ad\n", "line 2, column sample"),
    ("sample,modality,input\n.hidden,rna,rna.h5ad\n", "line 2, column sample"),
    ("sample,modality,input,batch\ns1,rna,rna.h5ad,-b\n", "line 2, column batch"),
])
def test_refuses_bad_sheets_naming_the_row(inputs, text, message):
    sheet = write_sheet(inputs, text)
    with pytest.raises(ScactInputError, match=None) as err:
        read_samplesheet(sheet, base_dir=inputs)
    assert message in str(err.value)
    assert str(sheet) in str(err.value)
